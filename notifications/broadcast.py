"""Broadcasts: one category and data to every user listed in a CSV, for large sends.

The users are split into deterministic chunks, and each chunk is accepted by
`notification_accept` in its own transaction under an idempotency key made of the run key
and the chunk's index. A run stopped at any moment (Ctrl-C, SIGKILL, a lost database) has
either committed a chunk with all its notifications or nothing of it, so running the same
broadcast again skips the chunks already accepted and sends only the rest: each user gets
exactly one notification. A crash between a chunk's commit and the enqueueing of its
pipeline leaves its rows `accepted`, which the sweeper picks up.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model

from notifications.api_keys import api_key_create
from notifications.models import ApiKey, Category, NotificationRequest
from notifications.services import AcceptError, AcceptRequest, body_hash, notification_accept

USER_ID_COLUMN = "user_id"
# A fixed default, not CLARION_CHUNK_SIZE: a re-run must cut the same chunks as the run it
# finishes, whatever the environment says by then. The pipeline still splits each chunk by
# CLARION_CHUNK_SIZE for the workers.
DEFAULT_CHUNK_SIZE = 500
MAX_CHUNK_SIZE = 10_000
API_KEY_NAME = "manage.py clarion_broadcast"
KEY_PREFIX = "broadcast"
# No ":" so that "broadcast:<run key>:" prefixes exactly one run's idempotency keys.
RUN_KEY_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,100}")
MAX_USER_ID = 2**63 - 1
SHOWN = 20
LOOKUP_BATCH = 1000


class BroadcastError(Exception):
    """Bad input or a refused run; the message says what to do, nothing is half-explained."""


@dataclass(frozen=True)
class CsvRecipients:
    user_ids: list[int]  # unique, ascending: the same users give the same chunks in any row order
    rows: int
    duplicates: int
    ignored_columns: list[str]


@dataclass(frozen=True)
class Chunk:
    index: int
    user_ids: tuple[int, ...]
    idempotency_key: str
    body_hash: str


@dataclass(frozen=True)
class BroadcastPlan:
    category: str
    data: dict[str, Any]
    run_key: str
    chunks: list[Chunk]
    accepted: frozenset[int]  # indexes of chunks an earlier run already accepted
    unknown: frozenset[int]  # CSV user ids that are not active users; never sent to

    @property
    def pending(self) -> list[Chunk]:
        return [chunk for chunk in self.chunks if chunk.index not in self.accepted]

    @property
    def user_count(self) -> int:
        return sum(len(chunk.user_ids) for chunk in self.chunks)


@dataclass(frozen=True)
class ChunkOutcome:
    chunk: Chunk
    created: bool  # False: a concurrent run of the same broadcast accepted it first
    notifications: int


@dataclass(frozen=True)
class BroadcastResult:
    new_chunks: int
    new_notifications: int
    raced_chunks: int  # accepted by a concurrent run of the same broadcast
    empty_chunks: int  # every user of the chunk unknown: nothing to accept


def _shown(items: list[str]) -> str:
    return ", ".join(items[:SHOWN]) + (f" and {len(items) - SHOWN} more" if len(items) > SHOWN else "")


def _user_id_error(value: str) -> str | None:
    if not value:
        return "no user_id"
    # isascii: str.isdigit() also accepts digits such as "²" that int() refuses.
    if not (value.isascii() and value.isdigit()) or not 0 < int(value) <= MAX_USER_ID:
        return f"user_id {value[:40]!r} is not a positive whole number"
    return None


def recipients_parse(lines: Iterable[str]) -> CsvRecipients:
    """Read user ids from CSV text with a header row naming a `user_id` column.

    Other columns are ignored, blank lines skipped, repeated ids kept once. Any bad row
    refuses the whole file, listing bad rows by line number: a broadcast is either sent
    from a clean file or not at all.
    """
    reader = csv.reader(lines)
    try:
        header = next(reader, None)
        if header is None:
            raise BroadcastError(f"The CSV is empty; it needs a header row with a {USER_ID_COLUMN} column.")
        names = [name.strip().lower() for name in header]
        if USER_ID_COLUMN not in names:
            raise BroadcastError(
                f"The CSV header has no {USER_ID_COLUMN} column (it has: {_shown([repr(n) for n in header])})."
            )
        column = names.index(USER_ID_COLUMN)
        user_ids: set[int] = set()
        rows = 0
        errors: list[str] = []
        for row in reader:
            if not any(field.strip() for field in row):
                continue
            rows += 1
            value = row[column].strip() if column < len(row) else ""
            error = _user_id_error(value)
            if error:
                errors.append(f"line {reader.line_num}: {error}")
            else:
                user_ids.add(int(value))
    except csv.Error as error:
        raise BroadcastError(f"The CSV is malformed at line {reader.line_num}: {error}. Nothing was sent.") from error
    if errors:
        listed = "\n".join(f"  {line}" for line in errors[:SHOWN])
        more = f"\n  and {len(errors) - SHOWN} more" if len(errors) > SHOWN else ""
        raise BroadcastError(f"{len(errors)} bad rows in the CSV; nothing was sent:\n{listed}{more}")
    if not user_ids:
        raise BroadcastError("The CSV lists no users.")
    ignored = [name.strip() for i, name in enumerate(header) if i != column and name.strip()]
    return CsvRecipients(user_ids=sorted(user_ids), rows=rows, duplicates=rows - len(user_ids), ignored_columns=ignored)


def run_key_default(category: str, data: dict[str, Any], user_ids: list[int]) -> str:
    """Name a run by what it sends to whom, so running the same broadcast again resumes it."""
    return body_hash({"category": category, "data": data, "user_ids": user_ids})[:24]


def chunks_build(
    category: str, data: dict[str, Any], user_ids: list[int], chunk_size: int, run_key: str
) -> list[Chunk]:
    """Cut the users into chunks; each chunk's body hash covers exactly what it sends, so a
    run key reused for anything else is refused instead of skipping or doubling sends."""
    chunks = []
    for index, start in enumerate(range(0, len(user_ids), chunk_size)):
        ids = tuple(user_ids[start : start + chunk_size])
        chunks.append(
            Chunk(
                index=index,
                user_ids=ids,
                idempotency_key=f"{KEY_PREFIX}:{run_key}:{index}",
                body_hash=body_hash({"category": category, "data": data, "user_ids": ids}),
            )
        )
    return chunks


def users_unknown(user_ids: list[int]) -> frozenset[int]:
    """The ids that are not active users, as the API refuses such recipients."""
    active: set[int] = set()
    users = get_user_model().objects.filter(is_active=True)
    for start in range(0, len(user_ids), LOOKUP_BATCH):
        active.update(users.filter(pk__in=user_ids[start : start + LOOKUP_BATCH]).values_list("pk", flat=True))
    return frozenset(user_ids) - active


def _api_key(create: bool) -> ApiKey | None:
    # The oldest key of this name, even revoked: it only scopes the idempotency keys (nobody
    # holds its secret), and switching keys would forget which chunks were already sent.
    # Re-selected after creating, so two first runs racing settle on the same key.
    oldest = ApiKey.objects.filter(name=API_KEY_NAME).order_by("pk")
    api_key = oldest.first()
    if api_key is None and create:
        api_key_create(API_KEY_NAME)
        api_key = oldest.first()
    return api_key


def chunks_accepted(api_key: ApiKey | None, run_key: str, chunks: list[Chunk]) -> frozenset[int]:
    """Indexes of the chunks of this run already accepted; refuses a run key used for other input."""
    if api_key is None:
        return frozenset()
    recorded = NotificationRequest.objects.filter(
        api_key=api_key, idempotency_key__startswith=f"{KEY_PREFIX}:{run_key}:"
    ).values_list("idempotency_key", "body_hash")
    planned = {chunk.idempotency_key: chunk for chunk in chunks}
    accepted = set()
    for key, recorded_hash in recorded:
        chunk = planned.get(key)
        if chunk is None or chunk.body_hash != recorded_hash:
            raise BroadcastError(
                f"Run {run_key} was started with different input (its chunk {key.rsplit(':', 1)[-1]} differs): "
                "re-run with the same category, data, CSV users and chunk size to finish it, "
                "or use a new run key to start another broadcast. Nothing was sent."
            )
        accepted.add(chunk.index)
    return frozenset(accepted)


def broadcast_plan(
    category: str, data: dict[str, Any], user_ids: list[int], chunk_size: int, run_key: str | None = None
) -> BroadcastPlan:
    """Validate a broadcast and find what an earlier run of it already sent; writes nothing."""
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise BroadcastError(f"The chunk size must be between 1 and {MAX_CHUNK_SIZE}.")
    if run_key is not None and not RUN_KEY_PATTERN.fullmatch(run_key):
        raise BroadcastError("A run key is 1 to 100 letters, digits, '.', '_' or '-'.")
    if not Category.objects.filter(slug=category, enabled=True).exists():
        raise BroadcastError(f"No enabled category '{category}'.")
    run_key = run_key or run_key_default(category, data, user_ids)
    chunks = chunks_build(category, data, user_ids, chunk_size, run_key)
    return BroadcastPlan(
        category=category,
        data=data,
        run_key=run_key,
        chunks=chunks,
        accepted=chunks_accepted(_api_key(create=False), run_key, chunks),
        unknown=users_unknown(user_ids),
    )


def chunk_accept(api_key: ApiKey, plan: BroadcastPlan, chunk: Chunk) -> ChunkOutcome:
    """Accept one chunk in one transaction, leaving out the plan's unknown users."""
    recipients = [str(pk) for pk in chunk.user_ids if pk not in plan.unknown]
    if not recipients:
        return ChunkOutcome(chunk=chunk, created=False, notifications=0)
    request = AcceptRequest(
        category=plan.category,
        recipients=recipients,
        data=plan.data,
        idempotency_key=chunk.idempotency_key,
        body_hash=chunk.body_hash,
    )
    try:
        result = notification_accept(api_key, request)
    except AcceptError as error:
        raise BroadcastError(
            f"Chunk {chunk.index} was refused: {error.message} The chunks before it were sent; "
            "re-run once this is fixed to send the rest."
        ) from error
    return ChunkOutcome(chunk=chunk, created=result.created, notifications=len(result.notifications))


def broadcast_send(plan: BroadcastPlan, on_chunk: Callable[[ChunkOutcome], None] | None = None) -> BroadcastResult:
    """Accept the plan's pending chunks in order; `on_chunk` hears of each as it commits."""
    api_key = _api_key(create=True)
    new_chunks = new_notifications = raced = empty = 0
    for chunk in plan.pending:
        outcome = chunk_accept(api_key, plan, chunk)
        if outcome.created:
            new_chunks += 1
            new_notifications += outcome.notifications
        elif outcome.notifications:
            raced += 1
        else:
            empty += 1
        if on_chunk is not None:
            on_chunk(outcome)
    return BroadcastResult(
        new_chunks=new_chunks, new_notifications=new_notifications, raced_chunks=raced, empty_chunks=empty
    )
