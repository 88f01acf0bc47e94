"""Email through SMTP end to end (real web and worker processes, aiosmtpd as the mail
server), and failing over from an unreachable SES to SMTP."""

from __future__ import annotations

import pytest
import requests

from delivery.models import FINAL_STATUSES, Delivery
from scripts.embedded_redis import free_port
from tests import factories
from tests.support.moto_server import ses_env
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


def finished_email(notification_id: str) -> Delivery:
    return wait_for(
        lambda: Delivery.objects.filter(
            notification_id=notification_id, channel="email", status__in=FINAL_STATUSES
        ).first(),
        timeout=30,
        message=f"the email delivery of {notification_id} to finish",
    )


def attempt_log(delivery: Delivery) -> list[tuple[str, str, str]]:
    return list(delivery.attempts.order_by("started_at", "pk").values_list("provider", "outcome", "error_code"))


@pytest.fixture
def email_category(transactional_db):
    factories.UserFactory(username="ada")
    return factories.category_with_templates(channels=("email",))


def test_post_sends_the_rendered_email_over_smtp(processes, smtp_server, email_category):
    key = factories.api_key()
    processes.worker(env=smtp_server.env())
    _, base_url = processes.web()

    notification_id = post_notification(base_url, key, email_category.slug, "ada")

    email = finished_email(notification_id)
    assert (email.status, email.provider) == (Delivery.Status.SENT, "smtp")
    [received] = smtp_server.messages
    assert received["Subject"] == "Hello Ada"
    assert received["To"] == "ada@example.com"
    assert received["X-Clarion-Delivery"] == str(email.pk)
    assert received["Message-ID"] == email.provider_message_id == f"<{email.pk}@clarion>"
    assert "Hi Ada, this is ada's message." in received.get_payload(decode=True).decode()


def test_smtp_rejected_recipient_fails_the_delivery_after_one_attempt(processes, smtp_server, email_category):
    smtp_server.handler.behaviour.reject_recipients.add("ada@example.com")
    key = factories.api_key()
    processes.worker(env=smtp_server.env())
    _, base_url = processes.web()

    notification_id = post_notification(base_url, key, email_category.slug, "ada")

    email = finished_email(notification_id)
    assert email.status == Delivery.Status.FAILED
    assert attempt_log(email) == [("smtp", "permanent", "smtp_550")]
    assert smtp_server.messages == []


def test_smtp_deferred_data_is_retried_and_the_email_arrives_once(processes, smtp_server, email_category):
    smtp_server.handler.behaviour.defer_data_times = 1
    key = factories.api_key()
    processes.worker(env=smtp_server.env())
    _, base_url = processes.web()

    notification_id = post_notification(base_url, key, email_category.slug, "ada")

    email = finished_email(notification_id)
    assert email.status == Delivery.Status.SENT
    assert attempt_log(email) == [("smtp", "retryable", "smtp_451"), ("smtp", "delivered", "")]
    assert smtp_server.delivery_counts() == {str(email.pk): 1}


def test_unreachable_ses_is_retried_up_to_the_bound_then_fails_over_to_smtp(processes, smtp_server, email_category):
    key = factories.api_key()
    nothing_listens = f"http://127.0.0.1:{free_port()}"
    processes.worker(
        env={
            **smtp_server.env(),
            **ses_env(nothing_listens),
            "CLARION_EMAIL_PROVIDERS": "ses,smtp",
            "CLARION_MAX_ATTEMPTS_PER_PROVIDER": "2",
        }
    )
    _, base_url = processes.web()

    notification_id = post_notification(base_url, key, email_category.slug, "ada")

    email = finished_email(notification_id)
    assert (email.status, email.provider) == (Delivery.Status.SENT, "smtp")
    assert attempt_log(email) == [
        ("ses", "retryable", "ConnectionError"),
        ("ses", "retryable", "ConnectionError"),
        ("smtp", "delivered", ""),
    ]
    assert smtp_server.delivery_counts() == {str(email.pk): 1}
