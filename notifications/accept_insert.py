"""Writing one accepted request and its notifications: one statement, however many recipients.

The notifications of a request share their request, category, data, priority, channels,
dedup key, status and timestamps; only the id and the recipient differ. On PostgreSQL the
request row is inserted in a CTE and its notifications from two arrays (UNNEST), with the
shared values bound once. The ORM's bulk_create builds a model instance and prepares every
value of every row, which made a 1,000-recipient request cost about 150 ms of the web
server's CPU, most of the time to its 202; the request row's own ORM insert was a tenth of a
single-recipient POST's CPU. Elsewhere (SQLite, the embedded default) the ORM writes both.
"""

from __future__ import annotations

import contextlib
import functools
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Field, Model
from django.utils import timezone

from notifications.models import Notification, NotificationRequest

# The request row's fields besides its generated id.
REQUEST_FIELDS = ("api_key", "idempotency_key", "body_hash", "created_at")
# The notifications' columns that differ per row; every other concrete field but the request
# (the CTE's id) is one value shared by all, bound once.
PER_ROW_FIELDS = ("id", "recipient")
# Timestamps a microsecond apart in the recipients' order, as the ORM's one clock reading per
# row gives them: a replay lists a request's notifications by (created_at, id).
TIMESTAMP_FIELDS = ("created_at", "updated_at")


@dataclass(frozen=True)
class NewRequest:
    api_key_id: int
    idempotency_key: str | None
    body_hash: str
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


def request_insert(new: NewRequest) -> list[AcceptedNotification]:
    """Write the request and one notification per recipient, in the recipients' order, in a
    transaction of its own (a savepoint inside the caller's). Raises IntegrityError when the
    API key used the request's idempotency key before."""
    ids = [uuid.uuid4() for _ in new.recipient_ids]
    now = timezone.now()
    request = {
        "api_key": new.api_key_id,
        "idempotency_key": new.idempotency_key,
        "body_hash": new.body_hash,
        "created_at": now,
    }
    shared = {
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
        # One statement is atomic on its own. Outside a caller's transaction it commits as it
        # runs: an atomic block around it cost a BEGIN and a COMMIT, two more round trips of a
        # single-recipient POST's four to PostgreSQL. Inside one, a savepoint keeps a refused
        # insert from breaking the caller's transaction.
        with transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext():
            _insert_unnest(ids, new.recipient_ids, request, shared)
    else:
        with transaction.atomic():
            accepted = NotificationRequest.objects.create(**_attnames(NotificationRequest, request))
            shared_attnames = _attnames(Notification, shared)
            Notification.objects.bulk_create(
                [Notification(id=pk, recipient_id=user, request=accepted, **shared_attnames) for pk, user in rows]
            )
    return [AcceptedNotification(pk=pk, recipient_id=user) for pk, user in rows]


def _attnames(model: type[Model], values: dict[str, Any]) -> dict[str, Any]:
    return {model._meta.get_field(name).attname: value for name, value in values.items()}


def _insert_unnest(
    ids: list[uuid.UUID], recipient_ids: list[int], request: dict[str, Any], shared: dict[str, Any]
) -> None:
    statement, request_fields, shared_fields = _unnest_statement(
        connection.vendor, REQUEST_FIELDS, PER_ROW_FIELDS, tuple(shared)
    )
    params = [field.get_db_prep_save(request[field.name], connection) for field in request_fields]
    params += [field.get_db_prep_save(shared[field.name], connection) for field in shared_fields]
    with connection.cursor() as cursor:
        cursor.execute(statement, [*params, ids, recipient_ids])


def _fields_guard(model: type[Model], given: set[str]) -> None:
    unexpected = {f.name for f in model._meta.concrete_fields} - given
    if unexpected:
        # A field added to the model must be given a value here, not left to a database default.
        raise LookupError(f"request_insert has no value for {model.__name__}.{sorted(unexpected)}")


@functools.cache
def _unnest_statement(
    vendor: str, request_fields: tuple[str, ...], per_row: tuple[str, ...], shared: tuple[str, ...]
) -> tuple[str, tuple[Field, ...], tuple[Field, ...]]:
    """The INSERT, built once per database vendor (its quoting and types), and the request's
    and the notifications' fields whose values it takes, in the order of its parameters."""
    _fields_guard(NotificationRequest, {"id", *request_fields})
    _fields_guard(Notification, {"request", *per_row, *shared})
    quote = connection.ops.quote_name

    def cast(field: Field) -> str:
        return f"CAST(%s AS {field.db_type(connection)})"

    request_meta = NotificationRequest._meta
    request_columns = [request_meta.get_field(name) for name in request_fields]
    selected = []
    for field in Notification._meta.concrete_fields:
        if field.name in per_row:
            selected.append(f"rows.{field.name}")
        elif field.name == "request":
            selected.append(f"accepted_request.{quote(request_meta.pk.column)}")
        elif field.name in TIMESTAMP_FIELDS:
            selected.append(f"{cast(field)} + (rows.position - 1) * INTERVAL '1 microsecond'")
        else:
            selected.append(cast(field))
    arrays = ", ".join(f"CAST(%s AS {Notification._meta.get_field(name).db_type(connection)}[])" for name in per_row)
    statement = (
        f"WITH accepted_request AS (INSERT INTO {quote(request_meta.db_table)} "  # noqa: S608 (names only)
        f"({', '.join(quote(f.column) for f in request_columns)}) "
        f"VALUES ({', '.join(cast(f) for f in request_columns)}) RETURNING {quote(request_meta.pk.column)}) "
        f"INSERT INTO {quote(Notification._meta.db_table)} "
        f"({', '.join(quote(f.column) for f in Notification._meta.concrete_fields)}) "
        f"SELECT {', '.join(selected)} FROM accepted_request, "
        f"UNNEST({arrays}) WITH ORDINALITY AS rows({', '.join(per_row)}, position)"
    )
    shared_fields = tuple(
        f for f in Notification._meta.concrete_fields if f.name not in per_row and f.name != "request"
    )
    return statement, tuple(request_columns), shared_fields
