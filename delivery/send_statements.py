"""The send path's hand-written writes: on PostgreSQL one statement and one round trip each.

With providers that answer at once, a send task's thread spent most of its time waiting on
PostgreSQL (py-spy over `make bench`'s throughput run): a claim was BEGIN, SELECT … FOR
UPDATE, UPDATE and COMMIT, and a round of results BEGIN, an INSERT of its attempts, an UPDATE
per delivery and COMMIT, and a round is a handful of deliveries when each call frees a place
in the window. One statement is atomic on its own: outside a caller's transaction it commits
as it runs, and inside one it is part of it. Elsewhere (SQLite) the ORM inserts the attempts
and one UPDATE executed with every row's values moves the deliveries on; the caller holds a
transaction around both.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Field

from delivery.models import Delivery, DeliveryAttempt


@dataclass(frozen=True)
class DeliveryFinish:
    """A delivery's move from `sending` to a final status, with what the provider said."""

    delivery: Delivery
    status: str
    reason: str
    provider: str
    provider_message_id: str
    sent_at: datetime


FINISH_FIELDS = ("status", "reason", "provider", "provider_message_id", "sent_at")


def deliveries_claim_returning(delivery_ids: Sequence[int], now: datetime) -> list[Delivery]:
    """Move the queued ones of these deliveries to `sending`, skipping rows another
    transaction holds, and return them as they are now, in no particular order."""
    return list(
        Delivery.objects.raw(
            _claim_statement(connection.vendor),
            [Delivery.Status.SENDING, now, now, list(delivery_ids), Delivery.Status.QUEUED],
        )
    )


def attempts_insert_and_deliveries_finish(
    attempts: Sequence[DeliveryAttempt], finishes: Sequence[DeliveryFinish], now: datetime
) -> int:
    """Insert these attempts and move these deliveries on, each only while still `sending`
    under the claim it was sent with; returns how many deliveries moved."""
    if connection.vendor != "postgresql":
        DeliveryAttempt.objects.bulk_create(attempts)
        return _deliveries_finish(finishes, now)
    if not attempts:
        return 0
    statement, attempt_fields = _record_statement(connection.vendor)
    attempt_columns = [[getattr(attempt, field.attname) for attempt in attempts] for field in attempt_fields]
    finish_columns = [[getattr(finish, name) for finish in finishes] for name in FINISH_FIELDS]
    finish_columns += [[finish.delivery.pk for finish in finishes], [finish.delivery.claimed_at for finish in finishes]]
    with connection.cursor() as cursor:
        cursor.execute(statement, [*attempt_columns, now, *finish_columns, Delivery.Status.SENDING])
        return cursor.rowcount


def _deliveries_finish(finishes: Sequence[DeliveryFinish], now: datetime) -> int:
    """The finishing UPDATE executed with every row's values (compiling an ORM update per
    delivery cost more CPU than the provider call it recorded); returns how many moved."""
    if not finishes:
        return 0
    moment = connection.ops.adapt_datetimefield_value  # what the ORM would do to each datetime
    with connection.cursor() as cursor:
        cursor.executemany(
            _finish_statement(connection.vendor),
            [
                (
                    finish.status,
                    finish.reason,
                    finish.provider,
                    finish.provider_message_id,
                    moment(finish.sent_at),
                    moment(now),
                    finish.delivery.pk,
                    Delivery.Status.SENDING,
                    moment(finish.delivery.claimed_at),
                )
                for finish in finishes
            ],
        )
        return cursor.rowcount


def _array(field: Field) -> str:
    return f"CAST(%s AS {field.db_type(connection)}[])"


def _delivery_columns(*names: str) -> dict[str, str]:
    """Delivery's columns by field name, quoted for the connection's database."""
    return {name: connection.ops.quote_name(Delivery._meta.get_field(name).column) for name in names}


@functools.cache
def _finish_statement(vendor: str) -> str:
    """The row-by-row UPDATE `_deliveries_finish` runs, built once per database vendor."""
    column = _delivery_columns(*FINISH_FIELDS, "updated_at", "id", "claimed_at")
    assignments = ", ".join(f"{column[name]} = %s" for name in (*FINISH_FIELDS, "updated_at"))
    guard = f"{column['id']} = %s AND {column['status']} = %s AND {column['claimed_at']} = %s"
    table = connection.ops.quote_name(Delivery._meta.db_table)
    return f"UPDATE {table} SET {assignments} WHERE {guard}"  # noqa: S608 (names only)


@functools.cache
def _claim_statement(vendor: str) -> str:
    """Built once per database vendor (its quoting and types)."""
    quote = connection.ops.quote_name
    meta = Delivery._meta
    column = _delivery_columns("id", "status", "claimed_at", "updated_at")
    table = quote(meta.db_table)
    returned = ", ".join(quote(field.column) for field in meta.concrete_fields)
    return (
        f"UPDATE {table} SET {column['status']} = %s, {column['claimed_at']} = %s, "  # noqa: S608 (names only)
        f"{column['updated_at']} = %s WHERE {column['id']} IN (SELECT {column['id']} FROM {table} "
        f"WHERE {column['id']} = ANY({_array(meta.pk)}) AND {column['status']} = %s FOR UPDATE SKIP LOCKED) "
        f"RETURNING {returned}"
    )


@functools.cache
def _record_statement(vendor: str) -> tuple[str, tuple[Field, ...]]:
    """The INSERT of a round's attempts and the UPDATE of its finished deliveries as one
    statement (the INSERT in a CTE: PostgreSQL runs it whatever the UPDATE reads), and the
    attempt fields whose columns it takes, in the order of its parameters."""
    quote = connection.ops.quote_name
    attempt_fields = tuple(field for field in DeliveryAttempt._meta.concrete_fields if not field.primary_key)
    meta = Delivery._meta
    finish_fields = [meta.get_field(name) for name in (*FINISH_FIELDS, "id", "claimed_at")]
    row_names = [f"finished_{field.name}" for field in finish_fields]
    assignments = ", ".join(
        f"{quote(field.column)} = rows.{name}"
        for field, name in zip(finish_fields, row_names, strict=True)
        if field.name in FINISH_FIELDS
    )
    column = _delivery_columns("id", "status", "claimed_at", "updated_at")
    statement = (
        f"WITH new_attempts AS (INSERT INTO {quote(DeliveryAttempt._meta.db_table)} "  # noqa: S608 (names only)
        f"({', '.join(quote(field.column) for field in attempt_fields)}) "
        f"SELECT * FROM UNNEST({', '.join(_array(field) for field in attempt_fields)})) "
        f"UPDATE {quote(meta.db_table)} SET {assignments}, "
        f"{column['updated_at']} = CAST(%s AS {meta.get_field('updated_at').db_type(connection)}) "
        f"FROM UNNEST({', '.join(_array(field) for field in finish_fields)}) AS rows({', '.join(row_names)}) "
        f"WHERE {column['id']} = rows.finished_id AND {column['status']} = %s "
        f"AND {column['claimed_at']} = rows.finished_claimed_at"
    )
    return statement, attempt_fields
