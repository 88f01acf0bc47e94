"""The workers `make run` starts (scripts/run.py's WORKER_TOPOLOGY), as real processes: the
critical queue has a worker of its own, so bulk traffic cannot hold up a security message."""

from __future__ import annotations

import pytest

from delivery.models import Delivery, DeliveryAttempt
from tests import factories
from tests.support.processes import wait_for
from tests.support.twilio_stub import TwilioStub

pytestmark = pytest.mark.e2e

CHUNK = 5


def _post(api_client, category, recipients: list[str]) -> list[str]:
    response = api_client.post(
        "/api/v1/notifications",
        {"category": category.slug, "recipients": recipients, "data": {"name": "Ada"}},
        format="json",
    )
    assert response.status_code == 202, response.content
    return [notification["id"] for notification in response.json()["notifications"]]


def test_a_security_email_goes_out_while_every_bulk_process_waits_on_a_provider(processes, smtp_server, api_client):
    sale = factories.category_with_templates(slug="spring_sale", channels=("sms",))
    sign_in = factories.category_with_templates(slug="new_sign_in", channels=("email",), kind="security")
    shoppers = factories.UserFactory.create_batch(2 * CHUNK)
    for n, user in enumerate(shoppers):
        factories.NotificationSettingsFactory(user=user, phone_number=f"+1555010{n:04d}")
    ada = factories.UserFactory(username="ada")
    # Twilio takes the bulk SMS and answers none of them while the test runs.
    twilio = TwilioStub().start()
    twilio.behaviour.hold_seconds = 600
    try:
        env = {
            **twilio.env(),
            **smtp_server.env(),
            "CLARION_PROVIDER_TIMEOUT_SECONDS": "600",
            "CLARION_CHUNK_SIZE": str(CHUNK),
        }
        processes.workers(env=env)
        _post(api_client, sale, [user.username for user in shoppers])
        # Two send tasks, one per bulk process, each with all its calls held at Twilio.
        wait_for(lambda: twilio.request_count == 2 * CHUNK, timeout=60, message="every bulk SMS to reach Twilio")

        (notification_id,) = _post(api_client, sign_in, [ada.username])

        security = Delivery.objects.filter(notification_id=notification_id)
        wait_for(
            lambda: security.filter(status=Delivery.Status.SENT).exists(), timeout=30, message="the security email"
        )
        assert smtp_server.delivery_counts() == {str(security.get().pk): 1}
        assert security.get().queue == "critical"
        # Still held, every one: no bulk send was done before the security email went.
        assert not DeliveryAttempt.objects.filter(delivery__channel="sms").exists()
        assert not twilio.messages()
    finally:
        twilio.stop()
