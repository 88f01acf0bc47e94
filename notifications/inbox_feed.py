"""Reads of a user's inbox: the paged feed, one item, and what a reconnecting socket missed."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import Q

from notifications.models import InboxItem

MAX_ID = 2**63 - 1  # the largest id a database column holds; anything above matches nothing
CATCH_UP_LIMIT = 100


class InvalidCursor(ValueError):
    pass


@dataclass(frozen=True)
class FeedFilter:
    unread: bool | None = None  # True: only unread; False: only read; None: both
    archived: bool = False  # the feed or the archive
    category: str | None = None


@dataclass(frozen=True)
class FeedPage:
    items: list[InboxItem]
    next_cursor: str | None


@dataclass(frozen=True)
class CatchUp:
    items: list[InboxItem]  # oldest first
    truncated: bool  # more were missed than CATCH_UP_LIMIT: the client should reload its feed


def cursor_encode(item: InboxItem) -> str:
    raw = f"{item.created_at.isoformat()}|{item.pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def cursor_decode(cursor: str) -> tuple[datetime, int]:
    """The (created_at, id) position a cursor names. Opaque to clients, but decoded
    defensively: anything malformed is an InvalidCursor, never a database error."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_text, _, id_text = raw.partition("|")
        created_at = datetime.fromisoformat(created_text)
        item_id = int(id_text) if id_text.isascii() and id_text.isdigit() else -1
        if created_at.tzinfo is None or not 0 < item_id <= MAX_ID:
            raise InvalidCursor("not a cursor this API made")
        # Normalised here: year 1 or 9999 with an offset overflows when the database adapts it.
        created_at = created_at.astimezone(UTC)
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError) as error:
        raise InvalidCursor(str(error)) from error
    return created_at, item_id


def inbox_feed_page(user_id: int, feed_filter: FeedFilter, limit: int, cursor: str | None = None) -> FeedPage:
    """Newest first, by (created_at, id): a cursor stays valid while new items arrive."""
    items = InboxItem.objects.filter(user_id=user_id, archived_at__isnull=not feed_filter.archived)
    if feed_filter.unread is not None:
        items = items.filter(read_at__isnull=feed_filter.unread)
    if feed_filter.category:
        items = items.filter(category__slug=feed_filter.category)
    if cursor:
        created_at, item_id = cursor_decode(cursor)
        items = items.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=item_id))
    page = list(items.select_related("category").order_by("-created_at", "-pk")[: limit + 1])
    has_more = len(page) > limit
    page = page[:limit]
    return FeedPage(items=page, next_cursor=cursor_encode(page[-1]) if has_more else None)


def inbox_item_get(user_id: int, item_id: int) -> InboxItem | None:
    """One of the user's items; another user's item is as absent as a missing one."""
    if not 0 < item_id <= MAX_ID:
        return None
    return InboxItem.objects.filter(pk=item_id, user_id=user_id).select_related("category").first()


def inbox_latest_id(user_id: int) -> int | None:
    """The newest item's id: where a client starts counting for `after` on reconnect.
    Ordered like the feed so that the feed's index answers it."""
    latest = InboxItem.objects.filter(user_id=user_id).order_by("-created_at", "-pk").values_list("pk", flat=True)
    return latest.first()


def inbox_catch_up(user_id: int, after: int) -> CatchUp:
    """Items stored after item `after`, oldest first, archived or not: what a socket missed.

    Ids grow with insertion, so "after" is by id. At most the newest CATCH_UP_LIMIT are
    returned; a client that missed more is told to reload instead of replaying them all.
    """
    newest = list(
        InboxItem.objects.filter(user_id=user_id, pk__gt=min(max(after, 0), MAX_ID))
        .select_related("category")
        .order_by("-pk")[: CATCH_UP_LIMIT + 1]
    )
    truncated = len(newest) > CATCH_UP_LIMIT
    return CatchUp(items=list(reversed(newest[:CATCH_UP_LIMIT])), truncated=truncated)
