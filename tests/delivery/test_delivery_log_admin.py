"""The delivery log admin: cancelling scheduled deliveries, filters, search, attempt latency."""

from datetime import timedelta

import pytest
from django.utils import timezone

from delivery.cancelling import scheduled_cancel
from delivery.models import Delivery, DeliveryAttempt
from delivery.sending import delivery_release
from tests import factories

pytestmark = pytest.mark.django_db


def test_cancelling_moves_only_scheduled_deliveries_to_skipped():
    scheduled = factories.DeliveryFactory(status=Delivery.Status.SCHEDULED, scheduled_for=timezone.now())
    sent = factories.DeliveryFactory(status=Delivery.Status.SENT)

    assert scheduled_cancel([scheduled.pk, sent.pk], cancelled_by="staff") == 1
    assert scheduled_cancel([scheduled.pk], cancelled_by="staff") == 0

    scheduled.refresh_from_db()
    assert (scheduled.status, scheduled.reason) == ("skipped", "cancelled by staff")
    assert delivery_release(scheduled.pk, now=timezone.now() + timedelta(days=1)) is None  # its ETA does nothing
    sent.refresh_from_db()
    assert sent.status == "sent"


def test_cancel_action_in_the_admin(staff_client):
    scheduled = factories.DeliveryFactory(status=Delivery.Status.SCHEDULED, scheduled_for=timezone.now())
    response = staff_client.post(
        "/admin/delivery/delivery/", {"action": "cancel_scheduled", "_selected_action": [scheduled.pk]}, follow=True
    )
    assert "Cancelled 1 scheduled deliveries" in response.content.decode()
    scheduled.refresh_from_db()
    assert scheduled.status == "skipped"


def test_filter_by_category_and_search_by_address(staff_client):
    wanted = factories.DeliveryFactory(content={"to": "ada@example.com"})
    other = factories.DeliveryFactory(content={"to": "bob@example.com"})

    by_category = staff_client.get(
        f"/admin/delivery/delivery/?notification__category__id__exact={wanted.notification.category_id}"
    )
    assert list(by_category.context["cl"].queryset) == [wanted]
    by_address = staff_client.get("/admin/delivery/delivery/?q=ada@example")
    assert list(by_address.context["cl"].queryset) == [wanted]
    assert other not in by_address.context["cl"].queryset


def test_delivery_page_shows_each_attempts_latency(staff_client):
    delivery = factories.DeliveryFactory(status=Delivery.Status.SENT)
    started = timezone.now()
    DeliveryAttempt.objects.create(
        delivery=delivery,
        provider="outbox",
        outcome="success",
        started_at=started,
        finished_at=started + timedelta(milliseconds=42),
    )
    response = staff_client.get(f"/admin/delivery/delivery/{delivery.pk}/change/")
    assert response.status_code == 200
    assert "42 ms" in response.content.decode()


def test_notification_page_lists_every_delivery_with_reason_and_attempts(staff_client):
    delivery = factories.DeliveryFactory(status=Delivery.Status.FAILED, reason="ses: MessageRejected")
    started = timezone.now()
    for provider, outcome, code in (("ses", "retryable", "Throttling"), ("smtp", "permanent", "550")):
        DeliveryAttempt.objects.create(
            delivery=delivery,
            provider=provider,
            outcome=outcome,
            error_code=code,
            error_message="<refused>",
            started_at=started,
            finished_at=started + timedelta(milliseconds=7),
        )
    response = staff_client.get(f"/admin/notifications/notification/{delivery.notification_id}/change/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "ses: MessageRejected" in html
    assert "ses · retryable · 7 ms · Throttling &lt;refused&gt;" in html
    assert "smtp · permanent · 7 ms · 550" in html
