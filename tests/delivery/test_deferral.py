"""Deferred deliveries (quiet hours, pauses) and the claim that guards a send's result."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from delivery.chains import provider_chain
from delivery.fallback import fallback_after_failure
from delivery.models import Delivery
from delivery.planning import notifications_plan
from delivery.providers.base import OutgoingMessage, SendResult
from delivery.routing import deliveries_route
from delivery.sending import (
    NextStep,
    deliveries_claim,
    delivery_claim,
    delivery_release,
    delivery_send,
    provider_calls,
    send_prepare,
    sends_record,
)
from tests import factories
from tests.support.answering_provider import AnsweringProvider


@pytest.fixture(autouse=True)
def outbox_chains(settings):
    settings.CLARION_EMAIL_PROVIDERS = ["outbox"]
    provider_chain.cache_clear()
    yield
    provider_chain.cache_clear()


@pytest.fixture
def category(db):
    return factories.category_with_templates(slug="comment_reply", channels=("email", "in_app"))


@pytest.fixture
def ada(db):
    return factories.UserFactory(username="ada")


def _in_quiet_hours(user):
    """Quiet hours from an hour ago until an hour from now, in UTC."""
    now = timezone.now()
    start, end = (now - timedelta(hours=1)).time(), (now + timedelta(hours=1)).time()
    return factories.NotificationSettingsFactory(user=user, quiet_hours_start=start, quiet_hours_end=end)


def test_a_delivery_in_quiet_hours_is_scheduled_for_the_window_end_and_in_app_goes_silently(category, ada):
    _in_quiet_hours(ada)
    notification = factories.NotificationFactory(category=category, recipient=ada)

    notifications_plan([notification.pk])
    routes = deliveries_route([notification.pk])

    email = Delivery.objects.get(notification=notification, channel="email")
    in_app = Delivery.objects.get(notification=notification, channel="in_app")
    assert email.status == Delivery.Status.SCHEDULED
    assert email.reason.startswith("deferred: quiet hours until")
    assert routes.to_schedule == [(email.pk, email.scheduled_for)]
    assert timedelta(minutes=55) < email.scheduled_for - timezone.now() <= timedelta(hours=1)
    assert email.content["subject"] == "Hello Ada"  # rendered now, sent later
    assert in_app.status == Delivery.Status.QUEUED and in_app.content["silent"] is True
    assert routes.to_send == {"in_app": [in_app.pk]}


def test_a_scheduled_delivery_is_not_released_before_its_time(category, ada):
    _in_quiet_hours(ada)
    notification = factories.NotificationFactory(category=category, recipient=ada, channels=["email"])
    notifications_plan([notification.pk])
    deliveries_route([notification.pk])
    email = Delivery.objects.get(notification=notification)

    assert delivery_release(email.pk) is None
    assert delivery_release(email.pk, now=email.scheduled_for) == "email"
    assert Delivery.objects.get(pk=email.pk).status == Delivery.Status.QUEUED


def test_quiet_hours_do_not_hold_required_categories(ada):
    category = factories.category_with_templates(slug="password_reset", channels=("email",), kind="security")
    _in_quiet_hours(ada)
    notification = factories.NotificationFactory(category=category, recipient=ada)

    notifications_plan([notification.pk])
    routes = deliveries_route([notification.pk])

    assert routes.to_schedule == []
    assert Delivery.objects.get(notification=notification).status == Delivery.Status.QUEUED


class _SlowProvider:
    """Stands for a send that outlives the sweeper's patience: while it is in flight, the
    sweeper hands the delivery to another worker, which claims and sends it too."""

    name = "outbox"

    def __init__(self, delivery_id: int) -> None:
        self.delivery_id = delivery_id

    def send(self, message: OutgoingMessage) -> SendResult:
        Delivery.objects.filter(pk=self.delivery_id).update(status=Delivery.Status.QUEUED)
        delivery_claim(self.delivery_id)
        return SendResult.retryable("timeout", "read timed out")


def test_a_stale_claim_cannot_overwrite_the_result_of_the_claim_that_replaced_it(monkeypatch, db):
    delivery = factories.DeliveryFactory(channel="email", content={"to": "ada@example.com"})
    monkeypatch.setattr("delivery.sending.provider_chain", lambda channel: (_SlowProvider(delivery.pk),))

    delivery_send(delivery.pk)

    reloaded = Delivery.objects.get(pk=delivery.pk)
    # The stale worker's retryable result did not move the row: the newer claim still owns it.
    assert reloaded.status == Delivery.Status.SENDING
    assert reloaded.provider_attempts == 0


def test_a_failed_channel_hands_over_to_its_fallback_once(ada):
    category = factories.category_with_templates(
        slug="shipped", channels=("sms", "email"), fallback_channels={"sms": "email"}
    )
    failed = factories.DeliveryFactory(
        notification=factories.NotificationFactory(category=category, recipient=ada), channel="sms", status="failed"
    )

    assert fallback_after_failure(failed.pk) == failed.notification_id
    assert fallback_after_failure(failed.pk) is None
    email = Delivery.objects.get(notification=failed.notification, channel="email")
    assert email.status == Delivery.Status.PENDING
    assert email.reason.startswith("fallback after sms failed:")


def test_no_fallback_for_a_delivery_that_did_not_fail_or_a_category_without_one(ada, category):
    sent = factories.DeliveryFactory(
        notification=factories.NotificationFactory(category=category, recipient=ada), status="sent"
    )
    failed = factories.DeliveryFactory(
        notification=factories.NotificationFactory(category=category, recipient=ada), status="failed"
    )
    assert fallback_after_failure(sent.pk) is None
    assert fallback_after_failure(failed.pk) is None


def test_a_round_of_successes_is_recorded_row_by_row_and_a_stale_claim_among_them_is_left_alone(monkeypatch, db):
    """Successes that came back together are written in one statement (`sends_record`), each
    with its own provider id and time, under each row's own claim guard."""
    deliveries = [factories.DeliveryFactory(channel="email", content={"to": f"u{n}@example.com"}) for n in range(3)]
    chain = (AnsweringProvider(),)
    monkeypatch.setattr("delivery.sending.provider_chain", lambda channel: chain)
    claimed = deliveries_claim([d.pk for d in deliveries])
    prepared = [send_prepare(delivery) for delivery in claimed]
    calls = provider_calls(prepared)
    # Meanwhile the sweeper gave the last one up and another worker claimed it again.
    stale = claimed[-1]
    Delivery.objects.filter(pk=stale.pk).update(status=Delivery.Status.QUEUED)
    deliveries_claim([stale.pk])

    steps = sends_record(list(zip(prepared, calls, strict=True)))

    assert [step.next_step for step in steps] == [NextStep.NONE] * 3
    rows = {row.pk: row for row in Delivery.objects.filter(pk__in=[d.pk for d in deliveries])}
    for delivery in claimed[:2]:
        row = rows[delivery.pk]
        assert (row.status, row.provider, row.provider_message_id) == ("sent", "answering", f"id-{delivery.pk}")
        assert row.reason == "accepted by answering" and row.sent_at is not None
    assert rows[stale.pk].status == Delivery.Status.SENDING and rows[stale.pk].provider_message_id == ""
