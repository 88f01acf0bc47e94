"""Cross-channel fallback with real processes: push is down, the in-app message lands."""

from __future__ import annotations

import pytest
import requests

from delivery.models import Delivery
from notifications.models import InboxItem
from scripts.embedded_redis import free_port
from tests import factories
from tests.support.fcm_stub import FcmStub
from tests.support.processes import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def fcm_stub():
    stub = FcmStub().start()
    yield stub
    stub.stop()


def test_push_provider_down_lands_the_in_app_fallback(processes, fcm_stub, tmp_path):
    category = factories.category_with_templates(
        slug="order_shipped", channels=("push", "in_app"), fallback_channels={"push": "in_app"}
    )
    category.default_channels = ["push"]
    category.save()
    ada = factories.UserFactory(username="ada")
    factories.DeviceFactory(user=ada, token="ada-phone")
    env = {
        **fcm_stub.env(fcm_stub.service_account_file(tmp_path)),
        "FCM_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens: FCM is down
        "CLARION_MAX_ATTEMPTS_PER_PROVIDER": "2",
    }
    processes.worker(env=env)
    _, base_url = processes.web()

    response = requests.post(
        f"{base_url}/api/v1/notifications",
        json={"category": "order_shipped", "recipients": ["ada"], "data": {"name": "Ada"}},
        headers={"Authorization": f"Api-Key {factories.api_key()}"},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    notification_id = response.json()["notifications"][0]["id"]

    in_app = wait_for(
        lambda: Delivery.objects.filter(
            notification_id=notification_id, channel="in_app", status=Delivery.Status.DELIVERED
        ).first(),
        timeout=40,
        message="the in-app fallback to be delivered",
    )
    push = Delivery.objects.get(notification_id=notification_id, channel="push")
    assert push.status == Delivery.Status.FAILED
    assert push.attempts.count() == 2
    assert in_app.reason == "accepted by inbox"
    assert InboxItem.objects.filter(notification_id=notification_id, user=ada).count() == 1
