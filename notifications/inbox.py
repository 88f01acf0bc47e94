"""The in-app inbox: storing items and pushing them to the user's open websockets."""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from redis.exceptions import RedisError

from notifications.models import InboxItem, Notification

logger = logging.getLogger(__name__)


def inbox_group_name(user_id: int) -> str:
    return f"inbox.user.{user_id}"


def inbox_item_payload(item: InboxItem) -> dict[str, Any]:
    return {
        "id": item.pk,
        "notification_id": str(item.notification_id),
        "category": item.category.slug,
        "title": item.title,
        "body": item.body,
        "action_url": item.action_url,
        "created_at": item.created_at.isoformat(),
        "read": item.read_at is not None,
    }


def inbox_unread_count(user_id: int) -> int:
    return InboxItem.objects.filter(user_id=user_id, read_at__isnull=True).count()


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
        },
    )
    if created:
        inbox_push(item, silent=message.data.get("silent") == "1")
    return f"inbox-{item.pk}"


def inbox_push(item: InboxItem, silent: bool = False) -> None:
    """Tell the user's open sockets. The item is stored already, so a push that cannot reach
    the channel layer costs only liveness: the client sees the item on its next fetch.
    A `silent` push (quiet hours, pause) updates the feed without drawing attention."""
    event = {
        "type": "inbox.item",
        "silent": silent,
        "item": inbox_item_payload(item),
        "unread": inbox_unread_count(item.user_id),
    }
    try:
        async_to_sync(get_channel_layer().group_send)(inbox_group_name(item.user_id), event)
    except (RedisError, OSError) as error:
        logger.warning("in-app push for item %s failed: %s", item.pk, error)
