"""Changing the state of inbox items: read, unread, seen, archived, unarchived.

Each mark is one guarded UPDATE (only rows whose state changes), and the user's other
tabs and devices hear of it through a `counts.updated` push after commit.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from notifications.inbox import InboxCounts, inbox_counts, inbox_push_counts
from notifications.models import InboxItem


class InboxMark(enum.StrEnum):
    READ = "read"
    UNREAD = "unread"
    SEEN = "seen"
    ARCHIVED = "archived"
    UNARCHIVED = "unarchived"


class UnknownItems(Exception):
    """Some ids are not the user's items (missing, or another user's: the caller can't tell)."""

    def __init__(self, ids: list[int]) -> None:
        super().__init__(f"Unknown items: {ids}")
        self.ids = ids


@dataclass(frozen=True)
class MarkResult:
    updated: int
    counts: InboxCounts


def _apply(items: QuerySet[InboxItem], mark: InboxMark) -> int:
    now = timezone.now()
    if mark == InboxMark.READ:
        # Reading something is seeing it; keep the first time it was seen.
        return items.filter(read_at__isnull=True).update(read_at=now, seen_at=Coalesce("seen_at", now))
    if mark == InboxMark.UNREAD:
        return items.filter(read_at__isnull=False).update(read_at=None)
    if mark == InboxMark.SEEN:
        return items.filter(seen_at__isnull=True).update(seen_at=now)
    if mark == InboxMark.ARCHIVED:
        return items.filter(archived_at__isnull=True).update(archived_at=now)
    return items.filter(archived_at__isnull=False).update(archived_at=None)


def inbox_mark(user_id: int, mark: InboxMark, ids: Collection[int] | None) -> MarkResult:
    """Mark the user's items `ids`, or all of them when `ids` is None.

    All or nothing: if any id is not one of the user's items, nothing changes.
    """
    items = InboxItem.objects.filter(user_id=user_id)
    change: dict[str, Any] = {"mark": str(mark), "all": ids is None, "ids": []}
    with transaction.atomic():
        if ids is not None:
            wanted = set(ids)
            found = set(items.filter(pk__in=wanted).values_list("pk", flat=True))
            if found != wanted:
                raise UnknownItems(sorted(wanted - found))
            items = items.filter(pk__in=wanted)
            change["ids"] = sorted(wanted)
        updated = _apply(items, mark)
        counts = inbox_counts(user_id)
        if updated:
            transaction.on_commit(lambda: inbox_push_counts(user_id, counts, change))
    return MarkResult(updated=updated, counts=counts)
