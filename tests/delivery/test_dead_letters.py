"""Dead letters: the admin filter and the retry action that never sends twice."""

import pytest

from delivery.dead_letters import dead_letters_retry
from delivery.models import Delivery
from tests import factories

pytestmark = pytest.mark.django_db


def test_retrying_twice_requeues_once_from_the_first_provider():
    failed = factories.DeliveryFactory(status=Delivery.Status.FAILED, provider_index=1, provider_attempts=4)
    sent = factories.DeliveryFactory(status=Delivery.Status.SENT)

    first = dead_letters_retry([failed.pk, sent.pk], retried_by="staff")
    second = dead_letters_retry([failed.pk, sent.pk], retried_by="staff")

    assert first == {failed.queue: [failed.pk]}
    assert second == {}
    failed.refresh_from_db()
    assert (failed.status, failed.provider_index, failed.provider_attempts) == ("queued", 0, 0)
    assert failed.reason == "retried by staff"


def test_admin_filter_lists_only_dead_letters(staff_client):
    failed = factories.DeliveryFactory(status=Delivery.Status.FAILED)
    factories.DeliveryFactory(status=Delivery.Status.SENT)
    response = staff_client.get("/admin/delivery/delivery/?dead_letter=yes")
    assert response.status_code == 200
    assert list(response.context["cl"].queryset) == [failed]


def test_admin_action_clicked_twice_publishes_one_send(staff_client, monkeypatch):
    published = []
    monkeypatch.setattr("delivery.admin.deliveries_publish", published.append)
    failed = factories.DeliveryFactory(status=Delivery.Status.FAILED)
    form = {"action": "retry_dead_letters", "_selected_action": [failed.pk]}

    staff_client.post("/admin/delivery/delivery/", form)
    staff_client.post("/admin/delivery/delivery/", form)

    assert published == [{failed.queue: [failed.pk]}, {}]
