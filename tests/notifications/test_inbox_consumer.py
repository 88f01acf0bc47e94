"""The inbox websocket in-process, through the real ASGI stack (origin check, session
middleware, routing) and the real Redis channel layer: who may connect, what they hear on
connecting, what a reconnecting client catches up on, and that marks reach other tabs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import pytest
from channels.db import database_sync_to_async
from channels_redis.core import RedisChannelLayer
from channels_redis.utils import create_pool
from django.conf import settings
from django.db import connections
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from config.asgi import application
from notifications import inbox_feed
from notifications.api_keys import api_key_revoke
from notifications.inbox import inbox_push
from notifications.inbox_tokens import inbox_token_create
from notifications.models import InboxItem
from tests import factories
from tests.support.websocket_communicator import WebsocketCommunicator

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://127.0.0.1")
WAIT = 10  # seconds; a bound on waiting, never an expectation of speed


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        try:
            await asyncio.wait_for(scenario(), timeout=60)
        finally:
            # ORM calls ran on asgiref's executor thread, which outlives the test: close its
            # connection, or PostgreSQL cannot drop the test database at the end.
            await database_sync_to_async(connections.close_all)()

    asyncio.run(bounded())


def session_cookie(user) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    return b"cookie", f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


def socket(query: str = "", session_of=None) -> WebsocketCommunicator:
    headers = [ORIGIN] + ([session_cookie(session_of)] if session_of else [])
    return WebsocketCommunicator(application, f"/ws/notifications/{'?' + query if query else ''}", headers)


def token_of(user, **options) -> str:
    return inbox_token_create(user, api_key=options.pop("api_key", None) or factories.ApiKeyFactory(), **options).token


def item(user, **fields) -> InboxItem:
    return factories.InboxItemFactory(user=user, **fields)


async def connected(communicator: WebsocketCommunicator) -> dict:
    """Connect, and return the hello (after which every push reaches the socket)."""
    accepted, code = await communicator.connect(timeout=WAIT)
    assert accepted, f"refused with {code}"
    hello = await communicator.receive_json_from(timeout=WAIT)
    assert hello["type"] == "hello", hello
    return hello


async def push(stored: InboxItem, silent: bool = False) -> None:
    await database_sync_to_async(inbox_push)(stored, silent)


@pytest.fixture
def ada():
    return factories.UserFactory(username="ada")


@pytest.fixture
def bob():
    return factories.UserFactory(username="bob")


# --- who may connect --------------------------------------------------------------------


def tampered(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")


@pytest.mark.parametrize(
    "attempt",
    [
        pytest.param(lambda ada, bob: socket(), id="anonymous"),
        pytest.param(lambda ada, bob: socket("token="), id="empty-token"),
        pytest.param(lambda ada, bob: socket("token=garbage"), id="garbage-token"),
        pytest.param(lambda ada, bob: socket(f"token={tampered(token_of(ada))}"), id="tampered-token"),
        pytest.param(lambda ada, bob: socket(f"token={token_of(ada, lifetime_seconds=-1)}"), id="expired-token"),
        pytest.param(
            lambda ada, bob: socket(f"token={token_of(bob)}", session_of=ada), id="other-users-token-beside-session"
        ),
        pytest.param(
            lambda ada, bob: socket(f"token={tampered(token_of(ada))}", session_of=ada),
            id="tampered-token-beside-valid-session",
        ),
    ],
)
def test_the_socket_refuses_anything_but_a_session_or_a_valid_token(ada, bob, attempt):
    communicator = attempt(ada, bob)

    async def scenario() -> None:
        assert await communicator.connect(timeout=WAIT) == (False, 4401)

    run(scenario)


def test_a_refused_socket_never_reaches_the_channel_layer(ada, monkeypatch):
    async def no_channel(layer, prefix: str = "specific") -> str:
        raise AssertionError("a refused socket asked the channel layer for a channel")

    monkeypatch.setattr(RedisChannelLayer, "new_channel", no_channel)

    async def scenario() -> None:
        assert await socket("token=garbage").connect(timeout=WAIT) == (False, 4401)

    run(scenario)


def test_a_token_of_a_revoked_api_key_is_refused(ada):
    key = factories.ApiKeyFactory()
    token = token_of(ada, api_key=key)
    api_key_revoke(key.prefix)

    async def scenario() -> None:
        assert await socket(f"token={token}").connect(timeout=WAIT) == (False, 4401)

    run(scenario)


def test_a_foreign_origin_is_refused_even_with_a_valid_token(ada):
    communicator = WebsocketCommunicator(
        application, f"/ws/notifications/?token={token_of(ada)}", [(b"origin", b"https://evil.example")]
    )

    async def scenario() -> None:
        accepted, _ = await communicator.connect(timeout=WAIT)
        assert not accepted

    run(scenario)


@pytest.mark.parametrize("how", ["session", "token", "session-and-same-users-token"])
def test_hello_carries_the_counts_and_the_newest_item_id(ada, bob, how):
    now = timezone.now()
    item(ada)
    item(ada, seen_at=now)
    item(ada, seen_at=now, read_at=now)
    newest = item(ada, archived_at=now)
    item(bob)
    communicator = {
        "session": lambda: socket(session_of=ada),
        "token": lambda: socket(f"token={token_of(ada)}"),
        "session-and-same-users-token": lambda: socket(f"token={token_of(ada)}", session_of=ada),
    }[how]()

    async def scenario() -> None:
        hello = await connected(communicator)
        await communicator.disconnect()
        assert hello == {
            "type": "hello",
            "unread": 2,
            "counts": {"unseen": 1, "unread": 2, "total": 3},
            "last_id": newest.pk,
        }

    run(scenario)


# --- live pushes ------------------------------------------------------------------------


def test_a_token_socket_hears_its_users_pushes_and_no_one_elses(ada, bob):
    adas, bobs = item(ada, title="For ada"), item(bob, title="For bob")
    communicator = socket(f"token={token_of(ada)}")

    async def scenario() -> None:
        await connected(communicator)
        await push(bobs)
        await push(adas, silent=True)
        # Had bob's push reached ada it would have arrived first, as it was sent first.
        message = await communicator.receive_json_from(timeout=WAIT)
        await communicator.disconnect()
        assert message["type"] == "notification.created"
        assert message["item"]["id"] == adas.pk and message["item"]["title"] == "For ada"
        assert message["silent"] is True
        assert message["counts"] == {"unseen": 1, "unread": 1, "total": 1} and message["unread"] == 1

    run(scenario)


def test_a_client_frame_gets_an_error_and_the_socket_stays_open(ada):
    later = item(ada)
    communicator = socket(session_of=ada)

    async def scenario() -> None:
        await connected(communicator)
        await communicator.send_text('{"type": "mark", "id": 1}')
        assert (await communicator.receive_json_from(timeout=WAIT))["type"] == "error"
        await push(later)
        assert (await communicator.receive_json_from(timeout=WAIT))["item"]["id"] == later.pk
        await communicator.disconnect()

    run(scenario)


# --- catch-up ---------------------------------------------------------------------------


def test_reconnecting_with_after_delivers_what_was_missed_oldest_first_then_live(ada, bob):
    first, second = item(ada), item(ada)
    missed = [item(ada, title="Missed 1"), item(bob), item(ada, title="Missed 2"), item(ada, title="Missed 3")]
    communicator = socket(f"after={second.pk}&token={token_of(ada)}")

    async def scenario() -> None:
        hello = await connected(communicator)
        caught_up = [await communicator.receive_json_from(timeout=WAIT) for _ in range(3)]
        fresh = await database_sync_to_async(item)(ada, title="Live")
        await push(fresh)
        after = await communicator.receive_json_from(timeout=WAIT)
        await communicator.disconnect()

        assert (hello["missed"], hello["truncated"]) == (3, False)
        assert [m["item"]["title"] for m in caught_up] == ["Missed 1", "Missed 2", "Missed 3"]
        assert all(m["type"] == "notification.created" and m["catch_up"] for m in caught_up)
        assert caught_up[-1]["counts"]["total"] == 5
        assert after["item"]["id"] == fresh.pk and "catch_up" not in after

    assert first.pk < second.pk < missed[0].pk
    run(scenario)


def test_an_item_stored_while_connecting_is_sent_once(ada):
    """Stored after group_add but before the catch-up query: the catch-up has it, and its
    live push (which waits until connect() returns) is dropped as a duplicate."""
    seen = item(ada)
    racing = item(ada, title="Racing")
    communicator = socket(f"after={seen.pk}&token={token_of(ada)}")

    async def scenario() -> None:
        await connected(communicator)
        caught_up = await communicator.receive_json_from(timeout=WAIT)
        await push(racing)  # the push that would have raced the catch-up
        follow_up = await database_sync_to_async(item)(ada, title="After")
        await push(follow_up)
        next_message = await communicator.receive_json_from(timeout=WAIT)
        await communicator.disconnect()
        assert caught_up["item"]["id"] == racing.pk
        assert next_message["item"]["id"] == follow_up.pk

    run(scenario)


def test_a_client_that_missed_too_much_is_told_to_reload(ada, monkeypatch):
    monkeypatch.setattr(inbox_feed, "CATCH_UP_LIMIT", 3)
    start = item(ada)
    missed = [item(ada) for _ in range(5)]
    communicator = socket(f"after={start.pk}", session_of=ada)

    async def scenario() -> None:
        hello = await connected(communicator)
        caught_up = [(await communicator.receive_json_from(timeout=WAIT))["item"]["id"] for _ in range(3)]
        await communicator.disconnect()
        assert (hello["missed"], hello["truncated"]) == (3, True)
        assert caught_up == [entry.pk for entry in missed[-3:]]  # the newest three, oldest first

    run(scenario)


@pytest.mark.parametrize("after", ["abc", "-1", "1.5", "9" * 40, "１"])
def test_a_malformed_after_is_ignored_not_fatal(ada, after):
    item(ada)
    communicator = socket(f"after={after}&token={token_of(ada)}")

    async def scenario() -> None:
        hello = await connected(communicator)
        await communicator.disconnect()
        assert "missed" not in hello and hello["counts"]["total"] == 1

    run(scenario)


# --- marks reach every tab --------------------------------------------------------------


def test_marking_through_rest_sends_counts_updated_to_every_socket_of_the_user(ada, bob):
    first, second = item(ada), item(ada)
    bobs = item(bob)
    rest = APIClient()
    rest.credentials(HTTP_AUTHORIZATION=f"Inbox-Token {token_of(ada)}")
    tab_one, tab_two = socket(session_of=ada), socket(f"token={token_of(ada)}")
    bobs_tab = socket(session_of=bob)

    async def scenario() -> None:
        for tab in (tab_one, tab_two, bobs_tab):
            await connected(tab)
        response = await database_sync_to_async(rest.post)(f"/api/v1/inbox/items/{first.pk}/read")
        assert response.status_code == 200
        updates = [await tab.receive_json_from(timeout=WAIT) for tab in (tab_one, tab_two)]
        response = await database_sync_to_async(rest.post)(
            "/api/v1/inbox/archived", data=json.dumps({"all": True}), content_type="application/json"
        )
        archived = await tab_one.receive_json_from(timeout=WAIT)
        # Bob's tab: its next message is his own item, so ada's two updates never reached it.
        await push(bobs)
        bobs_next = await bobs_tab.receive_json_from(timeout=WAIT)
        # Together: a consumer that stops after another in the process waits out channels_redis'
        # shared five-second poll, and one after the other that would be ten seconds.
        await asyncio.gather(*(tab.disconnect() for tab in (tab_one, tab_two, bobs_tab)))

        for update in updates:
            assert update == {
                "type": "counts.updated",
                "counts": {"unseen": 1, "unread": 1, "total": 2},
                "unread": 1,
                "change": {"mark": "read", "all": False, "ids": [first.pk]},
            }
        assert archived["counts"] == {"unseen": 0, "unread": 0, "total": 0}
        assert archived["change"] == {"mark": "archived", "all": True, "ids": []}
        assert bobs_next["type"] == "notification.created" and bobs_next["item"]["id"] == bobs.pk

    assert second.pk
    run(scenario)


def test_a_mark_that_changes_nothing_sends_nothing(ada):
    already = item(ada, seen_at=timezone.now(), read_at=timezone.now())
    later = item(ada)
    rest = APIClient()
    rest.credentials(HTTP_AUTHORIZATION=f"Inbox-Token {token_of(ada)}")
    communicator = socket(session_of=ada)

    async def scenario() -> None:
        await connected(communicator)
        response = await database_sync_to_async(rest.post)(f"/api/v1/inbox/items/{already.pk}/read")
        assert response.json()["counts"]["unread"] == 1
        await push(later)
        # The first message after the no-op mark is the push: no counts.updated came before it.
        assert (await communicator.receive_json_from(timeout=WAIT))["type"] == "notification.created"
        await communicator.disconnect()

    run(scenario)


def test_a_quiet_consumers_blocking_pop_is_not_cut_short_by_a_read_timeout():
    """A consumer with nothing to receive waits in a blocking pop of `brpop_timeout` seconds;
    redis-py 8's default read timeout, 5 s as is the pop, killed quiet websockets whenever it
    fired before Redis' empty answer."""
    layer = RedisChannelLayer(**settings.CHANNEL_LAYERS["default"]["CONFIG"])
    assert create_pool(layer.hosts[0]).make_connection().socket_timeout is None
