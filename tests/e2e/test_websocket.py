"""The in-app websocket through a real ASGI server: who may connect, and who hears what."""

from __future__ import annotations

import json

import pytest
import requests
from django.conf import settings
from django.test import Client
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests import factories

pytestmark = pytest.mark.e2e


def socket_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://") + "/ws/notifications/"


def inbox_socket(base_url: str, session: str | None) -> ClientConnection:
    headers = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={session}"} if session else None
    return connect(socket_url(base_url), origin=base_url, additional_headers=headers, open_timeout=10)


def session_of(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def post_in_app(base_url: str, api_key: str, category: str, recipient: str) -> str:
    response = requests.post(
        f"{base_url}/api/v1/notifications",
        json={"category": category, "recipients": [recipient], "data": {"name": recipient}},
        headers={"Authorization": f"Api-Key {api_key}"},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    return response.json()["notifications"][0]["id"]


def next_push(socket: ClientConnection) -> str:
    """The notification id of the socket's next message, which must be a push."""
    message = json.loads(socket.recv(timeout=30))
    assert message["type"] == "notification.created", message
    return message["item"]["notification_id"]


@pytest.mark.parametrize("session", [None, "not-a-real-session-key"], ids=["no-cookie", "unknown-session"])
def test_inbox_socket_refuses_a_visitor_who_is_not_signed_in(processes, session):
    _, base_url = processes.web()

    with pytest.raises(InvalidStatus) as refused:
        inbox_socket(base_url, session)

    assert refused.value.response.status_code == 403


def test_inbox_socket_accepts_a_signed_in_user_with_a_hello(processes):
    _, base_url = processes.web()
    ada = factories.UserFactory(username="ada")

    with inbox_socket(base_url, session_of(ada)) as socket:
        assert json.loads(socket.recv(timeout=10)) == {
            "type": "hello",
            "unread": 0,
            "counts": {"unseen": 0, "unread": 0, "total": 0},
            "last_id": None,
        }


def test_each_user_hears_only_their_own_in_app_notifications(processes):
    category = factories.category_with_templates(channels=("in_app",))
    alice = factories.UserFactory(username="alice")
    bob = factories.UserFactory(username="bob")
    key = factories.api_key()
    processes.worker()
    _, base_url = processes.web()

    with (
        inbox_socket(base_url, session_of(alice)) as alice_socket,
        inbox_socket(base_url, session_of(bob)) as bob_socket,
    ):
        for socket in (alice_socket, bob_socket):
            assert json.loads(socket.recv(timeout=10))["type"] == "hello"

        for_alice = post_in_app(base_url, key, category.slug, "alice")
        assert next_push(alice_socket) == for_alice
        # Had alice's push reached bob, it would have been queued for him before his own
        # notification existed; so his next message being his own proves he never got hers.
        for_bob = post_in_app(base_url, key, category.slug, "bob")
        assert next_push(bob_socket) == for_bob
        # And the same the other way round.
        for_alice_again = post_in_app(base_url, key, category.slug, "alice")
        assert next_push(alice_socket) == for_alice_again
