"""The dashboard's numbers, from real rows in the database and a real Redis."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from delivery.breaker import Breaker, BreakerState
from delivery.breaker_store import KEY_PREFIX, breaker_encode
from delivery.models import Delivery, DeliveryAttempt, ProviderHealth
from digests.models import DigestItem
from monitoring.dashboard_data import (
    WINDOWS,
    breaker_states,
    channel_volume,
    dashboard_data,
    dead_letters,
    latency_summary,
    percentile,
    provider_success,
    scheduled_backlog,
    send_latency,
    window_for,
)
from preferences.policy import Action, CategoryRule, Recipient, decide_channel
from preferences.quiet_hours import QuietHours
from scripts.embedded_redis import free_port
from tests import factories

NOW = datetime(2025, 3, 4, 12, 30, 40, tzinfo=UTC)
HOUR, DAY = WINDOWS["1h"], WINDOWS["24h"]


def sent(channel: str, at: datetime, accepted_at: datetime | None = None, status: str = "") -> Delivery:
    """A delivery handed to its provider at `at`, for a notification accepted at `accepted_at`."""
    status = status or (Delivery.Status.DELIVERED if channel == "in_app" else Delivery.Status.SENT)
    delivery = factories.DeliveryFactory(channel=channel, status=status)
    # updated_at is auto_now on save(); update() writes the times the pipeline would have.
    Delivery.objects.filter(pk=delivery.pk).update(sent_at=at, updated_at=at)
    type(delivery.notification).objects.filter(pk=delivery.notification_id).update(created_at=accepted_at or at)
    return delivery


def test_window_buckets_end_with_the_step_holding_now():
    minutes = HOUR.buckets(NOW)
    hours = DAY.buckets(NOW)

    assert len(minutes) == 60
    assert minutes[-1] == datetime(2025, 3, 4, 12, 30, tzinfo=UTC)
    assert minutes[0] == datetime(2025, 3, 4, 11, 31, tzinfo=UTC)
    assert len(hours) == 24
    assert (hours[0], hours[-1]) == (datetime(2025, 3, 3, 13, tzinfo=UTC), datetime(2025, 3, 4, 12, tzinfo=UTC))


def test_an_unknown_window_falls_back_to_the_last_hour():
    assert window_for("24h") is DAY
    assert window_for("7y") is HOUR
    assert window_for(None) is HOUR


@pytest.mark.django_db
def test_volume_counts_sends_per_channel_per_minute_within_the_last_hour():
    sent("email", NOW - timedelta(seconds=30))  # this minute
    sent("email", NOW - timedelta(minutes=1, seconds=5))
    sent("email", NOW - timedelta(minutes=1, seconds=35))
    sent("in_app", NOW - timedelta(minutes=45))
    sent("sms", NOW - timedelta(hours=2))  # before the window
    factories.DeliveryFactory(channel="push", status=Delivery.Status.QUEUED)  # not sent
    failed = factories.DeliveryFactory(channel="push", status=Delivery.Status.FAILED)
    Delivery.objects.filter(pk=failed.pk).update(updated_at=NOW)

    volume = channel_volume(HOUR, NOW)

    assert volume.sends["email"][-1] == 1
    assert volume.sends["email"][-2] == 2
    assert sum(volume.sends["email"]) == 3
    assert volume.sends["in_app"][60 - 1 - 45] == 1
    assert sum(volume.sends["sms"]) == sum(volume.sends["push"]) == 0


@pytest.mark.django_db
def test_volume_over_a_day_counts_per_hour():
    sent("email", NOW - timedelta(minutes=20))
    sent("email", NOW - timedelta(minutes=29))
    sent("sms", NOW - timedelta(hours=23))
    sent("sms", NOW - timedelta(hours=25))

    volume = channel_volume(DAY, NOW)

    assert volume.sends["email"][-1] == 2
    assert volume.sends["sms"][0] == 1  # 13:30 yesterday, in the first hour of the window
    assert sum(volume.sends["sms"]) == 1


@pytest.mark.django_db
def test_provider_success_is_the_delivered_share_of_attempts_in_the_window():
    since = NOW - timedelta(hours=1)
    old = factories.DeliveryAttemptFactory(provider="ses", started_at=since - timedelta(minutes=10))
    for outcome in ("delivered", "delivered", "delivered", "retryable"):
        factories.DeliveryAttemptFactory(provider="ses", outcome=outcome, started_at=NOW - timedelta(minutes=3))
    factories.DeliveryAttemptFactory(provider="smtp", outcome="permanent", started_at=NOW - timedelta(minutes=2))
    # Written last, by a worker whose clock runs behind: outside, and cutting nothing off.
    late = factories.DeliveryAttemptFactory(provider="smtp", started_at=since - timedelta(seconds=1))

    rows = {row.provider: row for row in provider_success(since)}

    assert late.pk > old.pk
    assert (rows["ses"].attempts, rows["ses"].delivered, rows["ses"].rate) == (4, 3, 0.75)
    assert (rows["smtp"].attempts, rows["smtp"].delivered, rows["smtp"].rate) == (1, 0, 0.0)


@pytest.mark.django_db
def test_provider_success_counts_every_attempt_when_none_is_older_than_the_window():
    factories.DeliveryAttemptFactory(provider="twilio", started_at=NOW)
    assert [(row.provider, row.attempts) for row in provider_success(NOW - timedelta(hours=1))] == [("twilio", 1)]
    assert DeliveryAttempt.objects.count() == 1


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [
        ([], 0.5, None),
        ([7.0], 0.95, 7.0),
        ([3.0, 1.0, 2.0], 0.5, 2.0),
        ([1.0, 2.0, 3.0, 4.0], 0.5, 2.0),
        ([float(i) for i in range(1, 21)], 0.95, 19.0),
        ([float(i) for i in range(1, 101)], 0.95, 95.0),
    ],
)
def test_percentile_takes_the_nearest_rank(values, fraction, expected):
    assert percentile(values, fraction) == expected


def test_latency_summary_reports_the_share_within_ten_seconds():
    summary = latency_summary("email", [1.0, 2.0, 9.0, 10.0, 60.0])

    assert (summary.sends, summary.p50, summary.p95) == (5, 9.0, 60.0)
    assert summary.within_slo == pytest.approx(0.8)
    assert latency_summary("sms", []).within_slo is None


@pytest.mark.django_db
def test_send_latency_measures_from_accept_to_sent_per_channel_and_overall():
    for seconds in (2, 4, 30):
        at = NOW - timedelta(minutes=5)
        sent("email", at, accepted_at=at - timedelta(seconds=seconds))
    sent("in_app", NOW, accepted_at=NOW - timedelta(seconds=1))
    old = NOW - timedelta(hours=3)
    sent("email", old, accepted_at=old - timedelta(seconds=500))  # outside the window

    rows = {row.channel: row for row in send_latency(NOW - timedelta(hours=1))}

    assert (rows["email"].sends, rows["email"].p50, rows["email"].p95) == (3, 4.0, 30.0)
    assert rows["email"].within_slo == pytest.approx(2 / 3)
    assert (rows["in_app"].sends, rows["in_app"].p50) == (1, 1.0)
    assert (rows["sms"].sends, rows["sms"].p50) == (0, None)
    assert (rows["all"].sends, rows["all"].p50, rows["all"].within_slo) == (4, 2.0, 0.75)


@pytest.mark.django_db
def test_send_latency_takes_only_the_latest_sends_of_a_busy_window():
    for minutes, seconds in ((1, 1), (2, 2), (3, 300)):
        at = NOW - timedelta(minutes=minutes)
        sent("email", at, accepted_at=at - timedelta(seconds=seconds))

    email = send_latency(NOW - timedelta(hours=1), sample=2)[0]

    assert (email.channel, email.sends, email.p95) == ("email", 2, 2.0)


@pytest.mark.django_db
def test_scheduled_backlog_tells_quiet_hours_from_retries_and_counts_waiting_digest_items():
    for reason in (
        "deferred: quiet hours until 2025-03-05T07:00:00+00:00",
        "deferred: paused until 2025-03-05T09:00:00+00:00",
        "fallback for push (recipient has no active device): deferred: quiet hours until 2025-03-05T07:00:00+00:00",
        "digest of 3 notifications: deferred: quiet hours until 2025-03-05T07:00:00+00:00",
        "retry 1 in 0.4s after ses: Throttling rate exceeded",
        "passed over: ses breaker open",
    ):
        factories.DeliveryFactory(status=Delivery.Status.SCHEDULED, reason=reason)
    factories.DeliveryFactory(status=Delivery.Status.QUEUED, reason="deferred: quiet hours until 2025-03-05")
    for flushed_at in (None, None, timezone.now()):
        notification = factories.NotificationFactory()
        DigestItem.objects.create(
            user=notification.recipient,
            category=notification.category,
            channel="email",
            notification=notification,
            due_at=timezone.now(),
            flushed_at=flushed_at,
        )

    backlog = scheduled_backlog()

    assert (backlog.deferred, backlog.retries, backlog.digest_items) == (4, 2, 2)


@pytest.mark.django_db
def test_scheduled_backlog_recognises_the_policys_own_deferral_reasons():
    rule = CategoryRule(slug="comment_reply", required=False, default_channels=("email",))
    everywhere = frozenset({"email"})
    quiet = Recipient({}, everywhere, quiet_hours=QuietHours(start=time(0, 0), end=time(23, 59)))
    paused = Recipient({}, everywhere, paused_until=NOW + timedelta(hours=2))
    for recipient in (quiet, paused):
        decision = decide_channel(rule, "email", recipient, NOW)
        assert decision.action == Action.DEFER
        factories.DeliveryFactory(status=Delivery.Status.SCHEDULED, reason=decision.reason)

    assert scheduled_backlog().deferred == 2


@pytest.mark.django_db
def test_dead_letters_count_failed_deliveries_per_channel():
    factories.DeliveryFactory(channel="email", status=Delivery.Status.FAILED)
    factories.DeliveryFactory(channel="sms", status=Delivery.Status.FAILED)
    factories.DeliveryFactory(channel="sms", status=Delivery.Status.FAILED)
    factories.DeliveryFactory(channel="sms", status=Delivery.Status.SENT)

    assert dead_letters() == {"email": 1, "sms": 2, "push": 0, "in_app": 0}


@pytest.mark.django_db
@override_settings(CLARION_EMAIL_PROVIDERS=["ses", "smtp"], CLARION_SMS_PROVIDERS=["twilio"])
def test_breaker_states_are_read_live_from_redis(redis_client):
    key = f"{KEY_PREFIX}:ses"
    redis_client.hset(key, mapping=breaker_encode(Breaker(state=BreakerState.OPEN, weight=0)))
    # A recorded change older than the live state must not win.
    ProviderHealth.objects.create(provider="ses", state="half_open", weight=10, changed_at=timezone.now())
    try:
        states = {b.provider: b for b in breaker_states(redis_client)}
    finally:
        redis_client.delete(key)

    assert (states["ses"].state, states["ses"].weight, states["ses"].live) == ("open", 0, True)
    assert (states["smtp"].state, states["smtp"].weight) == ("closed", 100)
    assert {"twilio", "outbox", "inbox"} <= set(states)


@pytest.mark.django_db
@override_settings(CLARION_EMAIL_PROVIDERS=["ses", "smtp"])
def test_without_redis_breakers_show_their_last_recorded_change():
    ProviderHealth.objects.create(provider="ses", state="open", weight=0, changed_at=timezone.now())
    ProviderHealth.objects.create(provider="retired", state="half_open", weight=10, changed_at=timezone.now())

    states = {b.provider: b for b in breaker_states(None)}

    assert (states["ses"].state, states["ses"].weight, states["ses"].live) == ("open", 0, False)
    assert (states["smtp"].state, states["smtp"].weight) == ("closed", 100)
    assert states["retired"].state == "half_open"


@pytest.mark.django_db
def test_dashboard_data_reads_queue_depths_from_redis(redis_client):
    redis_client.lpush("sms", "a", "b")
    try:
        data = dashboard_data(HOUR)
    finally:
        redis_client.delete("sms")

    assert data.redis_reachable
    assert data.queue_depths["sms"] == 2
    assert all(breaker.live for breaker in data.breakers)


@pytest.mark.django_db
def test_dashboard_data_without_redis_still_answers_from_the_database():
    sent("email", timezone.now() - timedelta(seconds=5))
    factories.DeliveryFactory(status=Delivery.Status.FAILED)
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"):
        data = dashboard_data(HOUR)

    assert not data.redis_reachable
    assert set(data.queue_depths.values()) == {None}
    assert data.breakers and not any(breaker.live for breaker in data.breakers)
    assert sum(data.volume.sends["email"]) == 1
    assert data.dead_letters["email"] == 1
