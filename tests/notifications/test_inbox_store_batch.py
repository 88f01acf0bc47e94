"""Storing a chunk's in-app items at once (`inbox_items_store`): one item per notification
however often it is stored, each new item pushed once to its user's group over the real
Redis channel layer with the user's counts, nothing pushed for an item that existed."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.test.utils import CaptureQueriesContext

from delivery.providers.base import OutgoingMessage
from notifications.inbox import inbox_group_name, inbox_items_store
from notifications.models import InboxItem
from tests import factories

WAIT = 10  # seconds; a bound on waiting, never an expectation of speed


def _message(notification, title: str = "Hello", silent: bool = False) -> OutgoingMessage:
    return OutgoingMessage(
        channel="in_app",
        reference=str(notification.pk),
        to=str(notification.recipient_id),
        title=title,
        body="body",
        data={"notification_id": str(notification.pk), **({"silent": "1"} if silent else {})},
    )


def _listen(user_ids):
    layer = get_channel_layer()

    async def join():
        channels = {}
        for user_id in user_ids:
            channels[user_id] = await layer.new_channel()
            await layer.group_add(inbox_group_name(user_id), channels[user_id])
        return channels

    return layer, async_to_sync(join)()


def _received(layer, channel, count):
    async def receive():
        return [await asyncio.wait_for(layer.receive(channel), WAIT) for _ in range(count)]

    return async_to_sync(receive)()


def _nothing_more(layer, channel) -> bool:
    async def poll():
        try:
            await asyncio.wait_for(layer.receive(channel), 0.3)
        except TimeoutError:
            return True
        return False

    return async_to_sync(poll)()


@pytest.mark.django_db(transaction=True)
def test_a_chunk_is_stored_once_and_each_new_item_pushed_once_with_its_users_counts():
    category = factories.CategoryFactory(slug="comment_reply")
    ada, bob = factories.UserFactory(username="ada"), factories.UserFactory(username="bob")
    factories.InboxItemFactory(user=ada, category=category)  # an older item counts too
    first = factories.NotificationFactory(category=category, recipient=ada)
    second = factories.NotificationFactory(category=category, recipient=ada)
    for_bob = factories.NotificationFactory(category=category, recipient=bob)
    layer, channels = _listen([ada.pk, bob.pk])

    references = inbox_items_store(
        [_message(first, "one"), _message(for_bob, "bob's", silent=True), _message(second, "two")]
    )

    items = {item.notification_id: item for item in InboxItem.objects.filter(notification__in=[first, second, for_bob])}
    assert references == [f"inbox-{items[n.pk].pk}" for n in (first, for_bob, second)]
    ada_events = _received(layer, channels[ada.pk], 2)
    assert sorted(event["item"]["title"] for event in ada_events) == ["one", "two"]
    assert all(event["counts"] == {"unseen": 3, "unread": 3, "total": 3} for event in ada_events)
    assert not any(event["silent"] for event in ada_events)
    (bob_event,) = _received(layer, channels[bob.pk], 1)
    assert (bob_event["item"]["title"], bob_event["silent"], bob_event["counts"]["total"]) == ("bob's", True, 1)

    again = inbox_items_store([_message(first, "one"), _message(for_bob, "bob's")])

    assert again == [references[0], references[1]]
    assert InboxItem.objects.filter(notification__in=[first, second, for_bob]).count() == 3
    assert _nothing_more(layer, channels[ada.pk]) and _nothing_more(layer, channels[bob.pk])


@pytest.mark.django_db(transaction=True)
def test_storing_a_chunk_costs_the_same_statements_whatever_its_size():
    category = factories.CategoryFactory(slug="comment_reply")

    def statements(count: int) -> int:
        notifications = [
            factories.NotificationFactory(category=category, recipient=factories.UserFactory()) for _ in range(count)
        ]
        with CaptureQueriesContext(connection) as queries:
            inbox_items_store([_message(n) for n in notifications])
        return len(queries.captured_queries)

    assert statements(2) == statements(30)
