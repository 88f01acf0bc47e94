"""Quiet hours with real processes: a deferred email waits for the window's end, and is
still sent when the worker holding its ETA message dies."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from delivery.models import Delivery
from tests import factories
from tests.support.processes import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def ada_in_quiet_hours(transactional_db):
    """Ada's quiet hours started an hour ago and end a few seconds from now (UTC)."""
    ada = factories.UserFactory(username="ada")
    now = timezone.now()
    factories.NotificationSettingsFactory(
        user=ada,
        timezone="UTC",
        quiet_hours_start=(now - timedelta(hours=1)).time(),
        quiet_hours_end=(now + timedelta(seconds=4)).time(),
    )
    return ada


def _post(base_url: str) -> str:
    category = factories.category_with_templates(channels=("email",))
    response = requests.post(
        f"{base_url}/api/v1/notifications",
        json={"category": category.slug, "recipients": ["ada"], "data": {"name": "Ada"}},
        headers={"Authorization": f"Api-Key {factories.api_key()}"},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    return response.json()["notifications"][0]["id"]


def _scheduled(notification_id: str) -> Delivery:
    return wait_for(
        lambda: Delivery.objects.filter(notification_id=notification_id, status=Delivery.Status.SCHEDULED).first(),
        timeout=30,
        message="the email to be scheduled",
    )


def _sent(notification_id: str) -> Delivery:
    return wait_for(
        lambda: Delivery.objects.filter(notification_id=notification_id, status=Delivery.Status.SENT).first(),
        timeout=40,
        message="the email to be sent",
    )


def test_email_in_quiet_hours_is_held_and_sent_when_the_window_ends(processes, smtp_server, ada_in_quiet_hours):
    processes.worker(env=smtp_server.env())
    _, base_url = processes.web()

    notification_id = _post(base_url)

    scheduled = _scheduled(notification_id)
    assert "quiet hours" in scheduled.reason
    assert smtp_server.messages == []
    sent = _sent(notification_id)
    [attempt] = sent.attempts.all()
    assert attempt.started_at >= scheduled.scheduled_for
    assert list(smtp_server.delivery_counts().values()) == [1]


def test_email_whose_eta_message_died_with_its_worker_is_sent_by_the_sweeper(
    processes, smtp_server, ada_in_quiet_hours
):
    worker = processes.worker(env=smtp_server.env())
    _, base_url = processes.web()

    notification_id = _post(base_url)
    scheduled = _scheduled(notification_id)
    # The worker holds the release ETA message unacknowledged; killing it loses the message
    # until Redis' (long) visibility timeout. Only the database knows the email is owed.
    worker.kill()
    replacement = processes.worker(env=smtp_server.env())
    processes.beat(env=smtp_server.env())

    sent = _sent(notification_id)
    assert sent.attempts.get().started_at >= scheduled.scheduled_for
    assert "deliveries to send" in replacement.log()  # the sweeper released it
    assert list(smtp_server.delivery_counts().values()) == [1]
