"""The live inbox with real processes (uvicorn, a Celery worker, Redis): an app's front end
holding an inbox token hears a notification the moment the pipeline stores it, catches up on
what it missed while disconnected, and hears marks made on another device."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import requests
from websockets.sync.client import ClientConnection, connect

from notifications.models import InboxItem
from tests import factories
from tests.support.processes import ManagedProcess, wait_for

pytestmark = pytest.mark.e2e


def mint_token(base_url: str, api_key: str, user_id: int) -> str:
    response = requests.post(
        f"{base_url}/api/v1/users/{user_id}/inbox-token", headers={"Authorization": f"Api-Key {api_key}"}, timeout=10
    )
    assert response.status_code == 201, response.text
    return response.json()["token"]


def inbox_socket(base_url: str, token: str, after: int | None = None) -> ClientConnection:
    query = f"?token={token}" + (f"&after={after}" if after is not None else "")
    return connect(
        base_url.replace("http://", "ws://") + "/ws/notifications/" + query, origin=base_url, open_timeout=10
    )


def hello_of(socket: ClientConnection) -> dict:
    message = json.loads(socket.recv(timeout=10))
    assert message["type"] == "hello", message
    return message


def post_in_app(base_url: str, api_key: str, category: str, title_name: str) -> str:
    response = requests.post(
        f"{base_url}/api/v1/notifications",
        json={"category": category, "recipients": ["ada"], "data": {"name": title_name}},
        headers={"Authorization": f"Api-Key {api_key}"},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    return response.json()["notifications"][0]["id"]


@dataclass(frozen=True)
class Live:
    base_url: str
    key: str
    category: str
    ada: object
    web: ManagedProcess


@pytest.fixture
def live(processes) -> Live:
    """Ada, an in-app category, an app's API key, a worker and the web server."""
    category = factories.category_with_templates(channels=("in_app",))
    ada = factories.UserFactory(username="ada")
    key = factories.api_key()
    processes.worker()
    web, base_url = processes.web()
    return Live(base_url, key, category.slug, ada, web)


def test_a_posted_notification_reaches_the_token_holders_socket(live):
    base_url, key, category, ada = live.base_url, live.key, live.category, live.ada
    token = mint_token(base_url, key, ada.pk)

    with inbox_socket(base_url, token) as socket:
        assert hello_of(socket)["counts"] == {"unseen": 0, "unread": 0, "total": 0}
        notification_id = post_in_app(base_url, key, category, "Ada")
        pushed = json.loads(socket.recv(timeout=30))

    assert pushed["type"] == "notification.created"
    assert pushed["item"]["notification_id"] == notification_id
    assert pushed["item"]["title"] == "Hello Ada"
    assert pushed["counts"] == {"unseen": 1, "unread": 1, "total": 1}
    assert pushed["silent"] is False
    # The server logs the socket's path with its query string: the token is masked there.
    assert "/ws/notifications/?token=***" in live.web.log()
    assert token not in live.web.log()


def test_a_client_disconnected_during_two_notifications_gets_both_on_reconnect(live):
    base_url, key, category, ada = live.base_url, live.key, live.category, live.ada
    token = mint_token(base_url, key, ada.pk)
    with inbox_socket(base_url, token) as socket:
        hello_of(socket)
        first = post_in_app(base_url, key, category, "first")
        last_seen = json.loads(socket.recv(timeout=30))["item"]
    assert last_seen["notification_id"] == first

    missed = {post_in_app(base_url, key, category, name) for name in ("second", "third")}
    wait_for(lambda: InboxItem.objects.count() == 3, timeout=30, message="both items to be stored")

    with inbox_socket(base_url, token, after=last_seen["id"]) as socket:
        hello = hello_of(socket)
        caught_up = [json.loads(socket.recv(timeout=10)) for _ in range(2)]
        live_id = post_in_app(base_url, key, category, "fourth")
        after_catch_up = json.loads(socket.recv(timeout=30))

    assert (hello["missed"], hello["truncated"]) == (2, False)
    assert {message["item"]["notification_id"] for message in caught_up} == missed
    assert caught_up[0]["item"]["id"] < caught_up[1]["item"]["id"]  # oldest first
    assert all(message["catch_up"] for message in caught_up)
    assert after_catch_up["item"]["notification_id"] == live_id and "catch_up" not in after_catch_up


def test_marking_read_on_one_device_updates_the_counts_on_another(live):
    base_url, key, category, ada = live.base_url, live.key, live.category, live.ada
    token = mint_token(base_url, key, ada.pk)
    with inbox_socket(base_url, token) as phone, inbox_socket(base_url, token) as laptop:
        hello_of(phone)
        hello_of(laptop)
        post_in_app(base_url, key, category, "Ada")
        item = json.loads(phone.recv(timeout=30))["item"]
        json.loads(laptop.recv(timeout=30))

        response = requests.post(
            f"{base_url}/api/v1/inbox/items/{item['id']}/read",
            headers={"Authorization": f"Inbox-Token {token}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        update = json.loads(laptop.recv(timeout=10))

    assert update["type"] == "counts.updated"
    assert update["counts"] == {"unseen": 0, "unread": 0, "total": 1}
    assert update["change"] == {"mark": "read", "all": False, "ids": [item["id"]]}
