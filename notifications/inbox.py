"""The in-app inbox: storing items, counting them, and telling the user's open websockets.

Every socket of a user (each tab, each device) joins the user's group; every change to the
user's items is sent to that group, so all of them stay in step.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db.models import Count, Q
from redis.exceptions import RedisError

from notifications.models import InboxItem, Notification

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class InboxCounts:
    """Counts over the feed, which leaves out archived items."""

    unseen: int
    unread: int
    total: int

    def as_json(self) -> dict[str, int]:
        return asdict(self)


def inbox_group_name(user_id: int) -> str:
    return f"inbox.user.{user_id}"


def inbox_item_payload(item: InboxItem) -> dict[str, Any]:
    """An item as the REST API and the websocket show it; `item.category` must be loaded."""
    return {
        "id": item.pk,
        "notification_id": str(item.notification_id),
        "category": item.category.slug,
        "title": item.title,
        "body": item.body,
        "action_url": item.action_url,
        "data": item.data,
        "created_at": item.created_at.isoformat(),
        "seen": item.seen_at is not None,
        "read": item.read_at is not None,
        "archived": item.archived_at is not None,
        "seen_at": item.seen_at.isoformat() if item.seen_at else None,
        "read_at": item.read_at.isoformat() if item.read_at else None,
        "archived_at": item.archived_at.isoformat() if item.archived_at else None,
    }


def inbox_counts(user_id: int) -> InboxCounts:
    """All three counts in one query."""
    active = Q(archived_at__isnull=True)
    counts = InboxItem.objects.filter(active, user_id=user_id).aggregate(
        total=Count("pk"),
        unread=Count("pk", filter=Q(read_at__isnull=True)),
        unseen=Count("pk", filter=Q(seen_at__isnull=True)),
    )
    return InboxCounts(unseen=counts["unseen"], unread=counts["unread"], total=counts["total"])


def inbox_item_store(message: Any) -> str:
    """Store the in-app item for a delivery (once, however often it is retried) and push it.

    `message` is the OutgoingMessage of the inbox provider; its `to` is the user id and its
    `data` carries the notification id.
    """
    notification = Notification.objects.select_related("category").get(pk=message.data["notification_id"])
    item, created = InboxItem.objects.get_or_create(
        notification=notification,
        defaults={
            "user_id": notification.recipient_id,
            "category": notification.category,
            "title": message.title,
            "body": message.body,
            "action_url": message.action_url,
            # A security category's data holds reset codes and the like: they go by email or
            # SMS and never sit in a browser's feed.
            "data": {} if notification.category.is_critical else notification.data,
        },
    )
    if created:
        inbox_push(item, silent=message.data.get("silent") == "1")
    return f"inbox-{item.pk}"


def _group_send(user_id: int, event: dict[str, Any]) -> None:
    """The change is stored already, so a push that cannot reach the channel layer costs only
    liveness: the client catches up when it reconnects or fetches."""
    try:
        async_to_sync(get_channel_layer().group_send)(inbox_group_name(user_id), event)
    except (RedisError, OSError) as error:
        logger.warning("in-app push to user %s failed: %s", user_id, error)


def inbox_push(item: InboxItem, silent: bool = False) -> None:
    """Tell the user's open sockets about a new item. A `silent` push (quiet hours, pause)
    updates the feed without drawing attention."""
    event = {
        "type": "inbox.item",
        "silent": silent,
        "item": inbox_item_payload(item),
        "counts": inbox_counts(item.user_id).as_json(),
    }
    _group_send(item.user_id, event)


def inbox_push_counts(user_id: int, counts: InboxCounts, change: dict[str, Any]) -> None:
    """Tell the user's other tabs and devices that items changed state (`change` says how)."""
    _group_send(user_id, {"type": "inbox.counts", "counts": counts.as_json(), "change": change})
