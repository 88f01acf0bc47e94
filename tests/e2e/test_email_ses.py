"""Email through SES end to end: real web and worker processes, moto as SES, and a
websocket client for the in-app half of the same notification."""

from __future__ import annotations

import json

import pytest
import requests
from django.conf import settings
from django.test import Client
from websockets.sync.client import ClientConnection, connect

from delivery.models import FINAL_STATUSES, Delivery
from tests import factories
from tests.support.moto_server import SENDER
from tests.support.processes import wait_for

pytestmark = pytest.mark.e2e


def post_notification(base_url: str, api_key: str, category: str, recipient: str) -> str:
    response = requests.post(
        f"{base_url}/api/v1/notifications",
        json={"category": category, "recipients": [recipient], "data": {"name": "Ada"}},
        headers={"Authorization": f"Api-Key {api_key}"},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    return response.json()["notifications"][0]["id"]


def finished_delivery(notification_id: str, channel: str = "email") -> Delivery:
    return wait_for(
        lambda: Delivery.objects.filter(
            notification_id=notification_id, channel=channel, status__in=FINAL_STATUSES
        ).first(),
        timeout=30,
        message=f"the {channel} delivery of {notification_id} to finish",
    )


def attempt_log(delivery: Delivery) -> list[tuple[str, str, str]]:
    return list(delivery.attempts.order_by("started_at", "pk").values_list("provider", "outcome", "error_code"))


def inbox_socket(base_url: str, user) -> ClientConnection:
    """A websocket to the inbox, signed in as `user` the way a browser is: by session cookie."""
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    return connect(
        base_url.replace("http://", "ws://") + "/ws/notifications/",
        origin=base_url,
        additional_headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={session}"},
        open_timeout=10,
    )


def test_post_sends_email_through_ses_and_pushes_the_in_app_item_to_the_recipients_socket(processes, moto_server):
    category = factories.category_with_templates(channels=("email", "in_app"))
    ada = factories.UserFactory(username="ada")
    key = factories.api_key()
    moto_server.verify_sender()
    processes.worker(env=moto_server.env())
    _, base_url = processes.web()

    with inbox_socket(base_url, ada) as socket:
        # The consumer joins the user's group before saying hello, so every later push arrives.
        hello = json.loads(socket.recv(timeout=10))
        assert (hello["type"], hello["counts"]) == ("hello", {"unseen": 0, "unread": 0, "total": 0})
        notification_id = post_notification(base_url, key, category.slug, "ada")
        pushed = json.loads(socket.recv(timeout=30))

    assert pushed["type"] == "notification.created"
    assert pushed["unread"] == 1
    assert pushed["item"]["notification_id"] == notification_id
    assert (pushed["item"]["title"], pushed["item"]["category"]) == ("Hello Ada", category.slug)
    email = finished_delivery(notification_id)
    assert (email.status, email.provider) == (Delivery.Status.SENT, "ses")
    [sent] = moto_server.sent_emails()
    assert (sent.to, sent.subject, sent.source) == (["ada@example.com"], "Hello Ada", SENDER)
    assert "Hi Ada, this is ada's message." in sent.body
    assert email.provider_message_id == sent.message_id
    assert finished_delivery(notification_id, "in_app").status == Delivery.Status.DELIVERED


def test_ses_message_rejected_fails_the_delivery_after_one_attempt_and_sends_nothing(processes, moto_server):
    category = factories.category_with_templates(channels=("email",))
    factories.UserFactory(username="ada")
    key = factories.api_key()
    # The sender is never verified, so SES rejects every message: a permanent error.
    processes.worker(env=moto_server.env())
    _, base_url = processes.web()

    notification_id = post_notification(base_url, key, category.slug, "ada")

    email = finished_delivery(notification_id)
    assert email.status == Delivery.Status.FAILED
    assert attempt_log(email) == [("ses", "permanent", "MessageRejected")]
    assert "MessageRejected" in email.reason
    assert moto_server.sent_emails() == []


def test_ses_throttling_is_retried_with_backoff_and_the_email_arrives_once(processes, moto_server, ses_fault_proxy):
    category = factories.category_with_templates(channels=("email",))
    factories.UserFactory(username="ada")
    key = factories.api_key()
    moto_server.verify_sender()
    ses_fault_proxy.fail_next(2)
    processes.worker(env=moto_server.env(endpoint_url=ses_fault_proxy.url))
    _, base_url = processes.web()

    notification_id = post_notification(base_url, key, category.slug, "ada")

    email = finished_delivery(notification_id)
    assert email.status == Delivery.Status.SENT
    assert attempt_log(email) == [
        ("ses", "retryable", "TooManyRequestsException"),
        ("ses", "retryable", "TooManyRequestsException"),
        ("ses", "delivered", ""),
    ]
    # Three calls in all: botocore added no retries of its own to the three Celery made.
    assert ses_fault_proxy.requests_seen == 3
    [sent] = moto_server.sent_emails()
    assert (sent.to, sent.message_id) == (["ada@example.com"], email.provider_message_id)
