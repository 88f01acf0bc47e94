"""The in-app inbox: storing items, counting them, and telling the user's open websockets.

Every socket of a user (each tab, each device) joins the user's group; every change to the
user's items is sent to that group, so all of them stay in step.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any
from uuid import UUID

from channels.layers import get_channel_layer
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from redis.exceptions import RedisError

from notifications.models import InboxItem, Notification
from notifications.push_loop import push_loop_run

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
    return inbox_counts_of({user_id})[user_id]


def inbox_item_store(message: Any) -> str:
    """Store the in-app item for a delivery (once, however often it is retried) and push it.

    `message` is the OutgoingMessage of the inbox provider; its `to` is the user id and its
    `data` carries the notification id.
    """
    return inbox_items_store([message])[0]


def inbox_items_store(messages: Sequence[Any]) -> list[str]:
    """`inbox_item_store` for several messages at once: a few queries and one round of pushes
    for the lot, not per message. Returns each message's item reference, in order."""
    notification_ids = [UUID(str(message.data["notification_id"])) for message in messages]
    by_notification = dict(zip(notification_ids, messages, strict=True))
    items = {item.notification_id: item for item in InboxItem.objects.filter(notification_id__in=by_notification)}
    missing = set(by_notification) - set(items)
    created = _items_create(missing, by_notification) if missing else []
    items.update((item.notification_id, item) for item in created)
    if created:
        counts = inbox_counts_of({item.user_id for item in created})
        _group_send_all(
            [
                (
                    item.user_id,
                    _item_event(
                        item, by_notification[item.notification_id].data.get("silent") == "1", counts[item.user_id]
                    ),
                )
                for item in created
            ]
        )
    return [f"inbox-{items[pk].pk}" for pk in notification_ids]


def _items_create(notification_ids: set[UUID], by_notification: dict[UUID, Any]) -> list[InboxItem]:
    notifications = Notification.objects.select_related("category").in_bulk(list(notification_ids))
    new_items = [
        InboxItem(
            notification=notification,
            user_id=notification.recipient_id,
            category=notification.category,
            title=by_notification[pk].title,
            body=by_notification[pk].body,
            action_url=by_notification[pk].action_url,
            # A security category's data holds reset codes and the like: they go by email or
            # SMS and never sit in a browser's feed.
            data={} if notification.category.is_critical else notification.data,
        )
        for pk, notification in notifications.items()
    ]
    try:
        with transaction.atomic():
            return InboxItem.objects.bulk_create(new_items)
    except IntegrityError:
        # Another worker stored one of them meanwhile (a send repeated by the sweeper): item by item.
        return [item for item in (_item_create_once(item) for item in new_items) if item is not None]


def _item_create_once(item: InboxItem) -> InboxItem | None:
    """The item, saved, unless one for its notification exists already."""
    stored, created = InboxItem.objects.get_or_create(
        notification=item.notification,
        defaults={
            field: getattr(item, field) for field in ("user_id", "category", "title", "body", "action_url", "data")
        },
    )
    return stored if created else None


def inbox_counts_of(user_ids: set[int]) -> dict[int, InboxCounts]:
    """`inbox_counts` of several users, in one query."""
    rows = (
        InboxItem.objects.filter(archived_at__isnull=True, user_id__in=user_ids)
        .values("user_id")
        .annotate(
            total=Count("pk"),
            unread=Count("pk", filter=Q(read_at__isnull=True)),
            unseen=Count("pk", filter=Q(seen_at__isnull=True)),
        )
    )
    counts = {user_id: InboxCounts(unseen=0, unread=0, total=0) for user_id in user_ids}
    for row in rows:
        counts[row["user_id"]] = InboxCounts(unseen=row["unseen"], unread=row["unread"], total=row["total"])
    return counts


def _group_send(user_id: int, event: dict[str, Any]) -> None:
    _group_send_all([(user_id, event)])


def _group_send_all(events: Sequence[tuple[int, dict[str, Any]]]) -> None:
    """Send each event to its user's group, all in one round on one event loop.

    The change is stored already, so a push that cannot reach the channel layer costs only
    liveness: the client catches up when it reconnects or fetches."""
    layer = get_channel_layer()

    async def send_all() -> None:
        await asyncio.gather(*(layer.group_send(inbox_group_name(user_id), event) for user_id, event in events))

    try:
        push_loop_run(send_all())
    except (RedisError, OSError) as error:
        logger.warning("in-app push to %d users failed: %s", len({user_id for user_id, _ in events}), error)


def inbox_push(item: InboxItem, silent: bool = False) -> None:
    """Tell the user's open sockets about a new item. A `silent` push (quiet hours, pause)
    updates the feed without drawing attention."""
    _group_send(item.user_id, _item_event(item, silent, inbox_counts(item.user_id)))


def _item_event(item: InboxItem, silent: bool, counts: InboxCounts) -> dict[str, Any]:
    return {"type": "inbox.item", "silent": silent, "item": inbox_item_payload(item), "counts": counts.as_json()}


def inbox_push_counts(user_id: int, counts: InboxCounts, change: dict[str, Any]) -> None:
    """Tell the user's other tabs and devices that items changed state (`change` says how)."""
    _group_send(user_id, {"type": "inbox.counts", "counts": counts.as_json(), "change": change})
