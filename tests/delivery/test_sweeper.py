"""The sweeper: what it hands back to the pipeline, what it changes, and what it leaves alone.

Each test sets rows' ages by hand and sweeps at a fixed `now`; graces are short and distinct
so a row judged by the wrong grace shows up.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from delivery.models import Delivery
from delivery.sweeper import pipeline_sweep
from notifications.models import Category, Notification, Priority
from tests import factories

ACCEPTED_GRACE = 60
QUEUED_GRACE = 120
SCHEDULED_GRACE = 90
SENDING_GRACE = 1800


@pytest.fixture(autouse=True)
def graces(settings):
    settings.CLARION_ACCEPTED_GRACE_SECONDS = ACCEPTED_GRACE
    settings.CLARION_QUEUED_GRACE_SECONDS = QUEUED_GRACE
    settings.CLARION_SCHEDULED_GRACE_SECONDS = SCHEDULED_GRACE
    settings.CLARION_SENDING_GRACE_SECONDS = SENDING_GRACE


@pytest.fixture
def now() -> datetime:
    return timezone.now()


def ago(now: datetime, seconds: float) -> datetime:
    return now - timedelta(seconds=seconds)


def notification(updated_at: datetime, **fields: object) -> Notification:
    row = factories.NotificationFactory(**fields)
    Notification.objects.filter(pk=row.pk).update(updated_at=updated_at)
    return row


def delivery(status: str, updated_at: datetime, channel: str = "email", **fields: object) -> Delivery:
    row = factories.DeliveryFactory(status=status, channel=channel, **fields)
    # `update` leaves auto_now alone, so the row keeps the age the test gives it.
    Delivery.objects.filter(pk=row.pk).update(updated_at=updated_at)
    return row


def reload(row: Delivery | Notification) -> Delivery | Notification:
    row.refresh_from_db()
    return row


@pytest.mark.django_db
def test_accepted_notification_past_grace_is_handed_back_once_per_grace_period(now):
    stuck = notification(ago(now, ACCEPTED_GRACE + 1))

    first = pipeline_sweep(now=now)

    assert first.notifications_to_plan == [stuck.pk]
    assert first.critical_notifications == set()
    stuck = reload(stuck)
    assert (stuck.status, stuck.updated_at) == (Notification.Status.ACCEPTED, now)
    assert pipeline_sweep(now=now).notifications_to_plan == []
    next_period = pipeline_sweep(now=now + timedelta(seconds=ACCEPTED_GRACE + 1))
    assert next_period.notifications_to_plan == [stuck.pk]


@pytest.mark.django_db
def test_accepted_notification_within_grace_is_left_alone(now):
    recent_at = ago(now, ACCEPTED_GRACE - 1)
    recent = notification(recent_at)

    result = pipeline_sweep(now=now)

    assert result.notifications_to_plan == []
    assert reload(recent).updated_at == recent_at


@pytest.mark.django_db
def test_stuck_security_and_high_priority_notifications_are_marked_critical(now):
    security = notification(
        ago(now, ACCEPTED_GRACE + 1), category=factories.CategoryFactory(kind=Category.Kind.SECURITY)
    )
    urgent = notification(ago(now, ACCEPTED_GRACE + 1), priority=Priority.HIGH)
    bulk = notification(ago(now, ACCEPTED_GRACE + 1))

    result = pipeline_sweep(now=now)

    assert set(result.notifications_to_plan) == {security.pk, urgent.pk, bulk.pk}
    assert result.critical_notifications == {security.pk, urgent.pk}


@pytest.mark.django_db
def test_pending_deliveries_past_grace_hand_back_their_notification_once(now):
    email = delivery(Delivery.Status.PENDING, ago(now, ACCEPTED_GRACE + 1))
    delivery(Delivery.Status.PENDING, ago(now, ACCEPTED_GRACE + 1), channel="sms", notification=email.notification)
    recent = delivery(Delivery.Status.PENDING, ago(now, ACCEPTED_GRACE - 1))

    result = pipeline_sweep(now=now)

    assert result.notifications_to_route == [email.notification_id]
    assert reload(email).updated_at == now
    assert reload(recent).updated_at == ago(now, ACCEPTED_GRACE - 1)
    assert pipeline_sweep(now=now).notifications_to_route == []


@pytest.mark.django_db
def test_queued_deliveries_past_grace_are_handed_back_by_queue(now):
    email = delivery(Delivery.Status.QUEUED, ago(now, QUEUED_GRACE + 1))
    sms = delivery(Delivery.Status.QUEUED, ago(now, QUEUED_GRACE + 1), channel="sms")
    critical = delivery(Delivery.Status.QUEUED, ago(now, QUEUED_GRACE + 1), queue="critical")
    recent = delivery(Delivery.Status.QUEUED, ago(now, QUEUED_GRACE - 1))

    result = pipeline_sweep(now=now)

    assert dict(result.deliveries_to_send) == {"email": [email.pk], "sms": [sms.pk], "critical": [critical.pk]}
    assert reload(email).status == Delivery.Status.QUEUED
    assert reload(email).updated_at == now
    assert reload(recent).updated_at == ago(now, QUEUED_GRACE - 1)
    assert dict(pipeline_sweep(now=now).deliveries_to_send) == {}


@pytest.mark.django_db
def test_overdue_scheduled_delivery_is_released_to_queued(now):
    overdue = delivery(
        Delivery.Status.SCHEDULED, ago(now, 3600), scheduled_for=ago(now, SCHEDULED_GRACE + 1), reason="retry 1"
    )
    just_due = delivery(Delivery.Status.SCHEDULED, ago(now, 3600), scheduled_for=ago(now, SCHEDULED_GRACE - 1))
    future = delivery(Delivery.Status.SCHEDULED, ago(now, 3600), scheduled_for=now + timedelta(hours=8))

    result = pipeline_sweep(now=now)

    assert dict(result.deliveries_to_send) == {"email": [overdue.pk]}
    overdue = reload(overdue)
    assert overdue.status == Delivery.Status.QUEUED
    assert "scheduled task was lost" in overdue.reason
    assert overdue.updated_at == now
    assert reload(just_due).status == Delivery.Status.SCHEDULED
    assert reload(future).status == Delivery.Status.SCHEDULED


@pytest.mark.django_db
def test_sending_delivery_is_reset_only_after_the_long_sending_grace(now):
    abandoned = delivery(Delivery.Status.SENDING, ago(now, SENDING_GRACE + 1))
    # Older than every other grace: judged by the queued grace it would be re-sent mid-call.
    in_call = delivery(Delivery.Status.SENDING, ago(now, QUEUED_GRACE + 1))

    result = pipeline_sweep(now=now)

    assert dict(result.deliveries_to_send) == {"email": [abandoned.pk]}
    abandoned = reload(abandoned)
    assert abandoned.status == Delivery.Status.QUEUED
    assert "worker was lost mid-send" in abandoned.reason
    assert abandoned.updated_at == now
    in_call = reload(in_call)
    assert in_call.status == Delivery.Status.SENDING
    assert in_call.updated_at == ago(now, QUEUED_GRACE + 1)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "status",
    [
        Delivery.Status.SENT,
        Delivery.Status.DELIVERED,
        Delivery.Status.FAILED,
        Delivery.Status.SKIPPED,
        Delivery.Status.THROTTLED,
        Delivery.Status.DIGESTED,
    ],
)
def test_final_deliveries_are_never_swept_however_old(now, status):
    final = delivery(status, ago(now, 30 * 24 * 3600), scheduled_for=ago(now, 30 * 24 * 3600))
    notification_done = final.notification
    Notification.objects.filter(pk=notification_done.pk).update(status=Notification.Status.PLANNED)

    result = pipeline_sweep(now=now)

    assert result.notifications_to_plan == []
    assert result.notifications_to_route == []
    assert dict(result.deliveries_to_send) == {}
    assert reload(final).status == status
