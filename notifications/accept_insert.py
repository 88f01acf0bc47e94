"""Writing one request's notifications: one statement, however many recipients.

The notifications of a request share their request, category, data, priority, channels,
dedup key, status and timestamps; only the id and the recipient differ. On PostgreSQL they
are inserted from two arrays (UNNEST) with the shared values bound once. The ORM's
bulk_create builds a model instance and prepares every value of every row, which made a
1,000-recipient request cost about 150 ms of the web server's CPU, most of the time to its
202. Elsewhere (SQLite, the embedded default) bulk_create writes them.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Field
from django.utils import timezone

from notifications.models import Notification

# The columns that differ per row; every other concrete field is one shared value.
PER_ROW_FIELDS = ("id", "recipient")
SHARED_FIELDS = {
    "request",
    "category",
    "data",
    "priority",
    "channels",
    "dedup_key",
    "status",
    "created_at",
    "updated_at",
}
# Timestamps a microsecond apart in the recipients' order, as the ORM's one clock reading per
# row gives them: a replay lists a request's notifications by (created_at, id).
TIMESTAMP_FIELDS = ("created_at", "updated_at")


@dataclass(frozen=True)
class NewNotifications:
    request_id: int
    category_id: int
    recipient_ids: list[int]
    data: dict[str, Any]
    priority: str
    channels: list[str]
    dedup_key: str


@dataclass(frozen=True)
class AcceptedNotification:
    """What an accept answers about each notification it wrote."""

    pk: uuid.UUID
    recipient_id: int
    status: str = Notification.Status.ACCEPTED


def notifications_insert(new: NewNotifications) -> list[AcceptedNotification]:
    """Write one notification per recipient, in the recipients' order, inside the caller's
    transaction."""
    ids = [uuid.uuid4() for _ in new.recipient_ids]
    now = timezone.now()
    shared = {
        "request": new.request_id,
        "category": new.category_id,
        "data": new.data,
        "priority": new.priority,
        "channels": new.channels,
        "dedup_key": new.dedup_key,
        "status": Notification.Status.ACCEPTED,
        "created_at": now,
        "updated_at": now,
    }
    rows = list(zip(ids, new.recipient_ids, strict=True))
    if connection.vendor == "postgresql":
        _insert_unnest(ids, new.recipient_ids, shared)
    else:
        attnames = {Notification._meta.get_field(name).attname: value for name, value in shared.items()}
        Notification.objects.bulk_create([Notification(id=pk, recipient_id=user, **attnames) for pk, user in rows])
    return [AcceptedNotification(pk=pk, recipient_id=user) for pk, user in rows]


def _insert_unnest(ids: list[uuid.UUID], recipient_ids: list[int], shared: dict[str, Any]) -> None:
    statement, shared_fields = _unnest_statement(connection.vendor, PER_ROW_FIELDS, tuple(shared))
    params = [field.get_db_prep_save(shared[field.name], connection) for field in shared_fields]
    with connection.cursor() as cursor:
        cursor.execute(statement, [*params, ids, recipient_ids])


@functools.cache
def _unnest_statement(vendor: str, per_row: tuple[str, ...], shared: tuple[str, ...]) -> tuple[str, tuple[Field, ...]]:
    """The INSERT, built once per database vendor (its quoting and types), and the fields
    whose shared values it takes, in the order of its parameters."""
    fields = Notification._meta.concrete_fields
    unexpected = {f.name for f in fields} - set(per_row) - set(shared)
    if unexpected:
        # A field added to the model must be given a value here, not left to a database default.
        raise LookupError(f"notifications_insert has no value for {sorted(unexpected)}")
    quote = connection.ops.quote_name
    selected = []
    for field in fields:
        if field.name in per_row:
            selected.append(f"rows.{field.name}")
            continue
        value = f"CAST(%s AS {field.db_type(connection)})"
        selected.append(
            f"{value} + (rows.position - 1) * INTERVAL '1 microsecond'" if field.name in TIMESTAMP_FIELDS else value
        )
    arrays = ", ".join(f"CAST(%s AS {Notification._meta.get_field(name).db_type(connection)}[])" for name in per_row)
    statement = (
        f"INSERT INTO {quote(Notification._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608 (names only)
        f"SELECT {', '.join(selected)} FROM UNNEST({arrays}) WITH ORDINALITY AS rows({', '.join(per_row)}, position)"
    )
    return statement, tuple(f for f in fields if f.name not in per_row)
