"""The whole pipeline through real processes with the development outbox provider."""

from __future__ import annotations

import pytest
import requests

from delivery.models import Delivery, OutboxMessage
from tests import factories
from tests.support.processes import wait_for

pytestmark = pytest.mark.e2e


def test_post_reaches_outbox_and_inbox_through_real_worker(processes):
    category = factories.category_with_templates(channels=("email", "sms", "in_app"))
    user = factories.UserFactory(username="ada")
    factories.NotificationSettingsFactory(user=user)
    key = factories.api_key()
    processes.worker(env={"CLARION_EMAIL_PROVIDERS": "outbox"})
    _, base_url = processes.web()

    response = requests.post(
        f"{base_url}/api/v1/notifications",
        json={"category": category.slug, "recipients": ["ada"], "data": {"name": "Ada"}},
        headers={"Authorization": f"Api-Key {key}"},
        timeout=10,
    )

    assert response.status_code == 202, response.text
    notification_id = response.json()["notifications"][0]["id"]
    wait_for(
        lambda: Delivery.objects.filter(notification_id=notification_id, status__in=["sent", "delivered"]).count() == 3,
        timeout=30,
        message="three deliveries to finish",
    )
    assert OutboxMessage.objects.filter(channel="email", to="ada@example.com", subject="Hello Ada").count() == 1
    assert OutboxMessage.objects.filter(channel="sms", to="+15555550123").count() == 1
