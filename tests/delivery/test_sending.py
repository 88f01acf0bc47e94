"""Sending one delivery: the claim, the attempt log, retries, failover and final states.

The provider chain is replaced by scripted fakes; the service functions run directly.
"""

from __future__ import annotations

import io
import json
import logging
from collections import deque
from datetime import timedelta

import pytest
from django.utils import timezone

from config.json_logging import JsonFormatter
from delivery.chains import provider_chain
from delivery.models import Delivery, DeliveryAttempt
from delivery.providers.base import Outcome, OutgoingMessage, SendResult
from delivery.sending import NextStep, delivery_release, delivery_send
from notifications.models import InboxItem
from tests import factories

MAX_ATTEMPTS = 3


class ScriptedProvider:
    """Answers with the scripted results in order, then keeps repeating the last one."""

    def __init__(self, name: str, *results: SendResult) -> None:
        self.name = name
        self._results = deque(results or [SendResult.delivered(f"{name}-id")])
        self.sent: list[OutgoingMessage] = []

    def send(self, message: OutgoingMessage) -> SendResult:
        self.sent.append(message)
        return self._results.popleft() if len(self._results) > 1 else self._results[0]


@pytest.fixture(autouse=True)
def retry_settings(settings):
    settings.CLARION_MAX_ATTEMPTS_PER_PROVIDER = MAX_ATTEMPTS
    settings.CLARION_RETRY_BASE_SECONDS = 10.0
    settings.CLARION_RETRY_MAX_SECONDS = 60.0


@pytest.fixture
def use_chain(monkeypatch):
    def install(*providers: ScriptedProvider) -> None:
        monkeypatch.setattr("delivery.sending.provider_chain", lambda channel: providers)

    return install


@pytest.fixture
def delivery(db) -> Delivery:
    return factories.DeliveryFactory(
        channel="email",
        content={"to": "ada@example.com", "subject": "Hi", "body": "Text", "html_body": "<p>Text</p>"},
    )


def reload(delivery: Delivery) -> Delivery:
    delivery.refresh_from_db()
    return delivery


def release_now(delivery: Delivery) -> None:
    """What the scheduled task does when the retry's time comes."""
    assert delivery_release(delivery.pk, now=reload(delivery).scheduled_for) == delivery.queue


def test_delivered_marks_sent_and_records_the_attempt(delivery, use_chain):
    provider = ScriptedProvider("primary", SendResult.delivered("msg-1"))
    use_chain(provider)

    step = delivery_send(delivery.pk)

    assert step.next_step == NextStep.NONE
    delivery = reload(delivery)
    assert delivery.status == Delivery.Status.SENT
    assert (delivery.provider, delivery.provider_message_id) == ("primary", "msg-1")
    assert delivery.sent_at is not None
    assert delivery.reason == "accepted by primary"
    attempt = delivery.attempts.get()
    assert (attempt.provider, attempt.outcome, attempt.provider_message_id) == ("primary", "delivered", "msg-1")
    assert attempt.started_at <= attempt.finished_at


def test_provider_gets_the_rendered_message_with_the_delivery_as_reference(delivery, use_chain):
    provider = ScriptedProvider("primary")
    use_chain(provider)

    delivery_send(delivery.pk)

    (message,) = provider.sent
    assert message == OutgoingMessage(
        channel="email",
        reference=str(delivery.pk),
        to="ada@example.com",
        subject="Hi",
        body="Text",
        html_body="<p>Text</p>",
        data={"notification_id": str(delivery.notification_id), "delivery_id": str(delivery.pk)},
    )


@pytest.mark.parametrize(
    "status",
    [
        Delivery.Status.PENDING,
        Delivery.Status.SCHEDULED,
        Delivery.Status.SENDING,
        Delivery.Status.SENT,
        Delivery.Status.DELIVERED,
        Delivery.Status.FAILED,
        Delivery.Status.SKIPPED,
    ],
)
def test_a_delivery_that_is_not_queued_is_not_sent(db, use_chain, status):
    delivery = factories.DeliveryFactory(status=status)
    provider = ScriptedProvider("primary")
    use_chain(provider)

    step = delivery_send(delivery.pk)

    assert step.next_step == NextStep.NONE
    assert provider.sent == []
    assert reload(delivery).status == status
    assert not DeliveryAttempt.objects.exists()


def test_a_redelivered_task_does_not_send_twice(delivery, use_chain):
    provider = ScriptedProvider("primary")
    use_chain(provider)

    delivery_send(delivery.pk)
    delivery_send(delivery.pk)

    assert len(provider.sent) == 1
    assert reload(delivery).attempts.count() == 1


def test_retryable_schedules_a_retry_and_counts_the_attempt(delivery, use_chain):
    use_chain(ScriptedProvider("primary", SendResult.retryable("Throttling", "slow down")))
    before = timezone.now()

    step = delivery_send(delivery.pk)

    delivery = reload(delivery)
    assert step.next_step == NextStep.RETRY_LATER
    assert step.queue == delivery.queue
    assert delivery.status == Delivery.Status.SCHEDULED
    assert delivery.provider_attempts == 1
    assert delivery.scheduled_for == step.retry_at
    # First retry: half to all of the 10 s base.
    assert before + timedelta(seconds=5) <= delivery.scheduled_for <= timezone.now() + timedelta(seconds=10)
    assert "Throttling" in delivery.reason
    assert delivery.attempts.get().outcome == DeliveryAttempt.Outcome.RETRYABLE


def test_retry_after_from_the_provider_is_honoured(delivery, use_chain):
    use_chain(ScriptedProvider("primary", SendResult.retryable("429", "busy", retry_after_seconds=45)))
    before = timezone.now()

    step = delivery_send(delivery.pk)

    assert step.retry_at >= before + timedelta(seconds=45)


def test_release_waits_for_the_scheduled_time(delivery, use_chain):
    use_chain(ScriptedProvider("primary", SendResult.retryable("Throttling", "slow down")))
    delivery_send(delivery.pk)
    scheduled_for = reload(delivery).scheduled_for

    assert delivery_release(delivery.pk, now=scheduled_for - timedelta(seconds=5)) is None
    assert reload(delivery).status == Delivery.Status.SCHEDULED
    assert delivery_release(delivery.pk, now=scheduled_for) == delivery.queue
    assert reload(delivery).status == Delivery.Status.QUEUED
    assert delivery_release(delivery.pk, now=scheduled_for) is None


def test_retries_up_to_the_bound_then_fail_over_then_fail(delivery, use_chain):
    primary = ScriptedProvider("primary", SendResult.retryable("Throttling", "slow down"))
    secondary = ScriptedProvider("secondary", SendResult.retryable("smtp_451", "try later"))
    use_chain(primary, secondary)

    steps = []
    for attempt in range(1, MAX_ATTEMPTS):
        steps.append(delivery_send(delivery.pk).next_step)
        assert (reload(delivery).status, delivery.provider_attempts) == (Delivery.Status.SCHEDULED, attempt)
        release_now(delivery)

    steps.append(delivery_send(delivery.pk).next_step)
    delivery = reload(delivery)
    assert (delivery.status, delivery.provider_index, delivery.provider_attempts) == (Delivery.Status.QUEUED, 1, 0)
    assert delivery.reason.startswith(f"failing over after {MAX_ATTEMPTS} attempts")

    for _ in range(1, MAX_ATTEMPTS):
        steps.append(delivery_send(delivery.pk).next_step)
        release_now(delivery)
    steps.append(delivery_send(delivery.pk).next_step)

    delivery = reload(delivery)
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.reason.startswith(f"gave up after {MAX_ATTEMPTS} attempts: secondary")
    assert steps == (
        [NextStep.RETRY_LATER] * (MAX_ATTEMPTS - 1)
        + [NextStep.REQUEUE]
        + [NextStep.RETRY_LATER] * (MAX_ATTEMPTS - 1)
        + [NextStep.NONE]
    )
    assert (len(primary.sent), len(secondary.sent)) == (MAX_ATTEMPTS, MAX_ATTEMPTS)
    assert list(delivery.attempts.values_list("provider", flat=True)) == (
        ["primary"] * MAX_ATTEMPTS + ["secondary"] * MAX_ATTEMPTS
    )
    # Failed is final: another send does nothing.
    assert delivery_send(delivery.pk).next_step == NextStep.NONE
    assert len(secondary.sent) == MAX_ATTEMPTS


def test_fail_over_reaches_the_next_provider_which_delivers(delivery, use_chain):
    primary = ScriptedProvider("primary", SendResult.retryable("Throttling", "slow down"))
    secondary = ScriptedProvider("secondary", SendResult.delivered("sec-1"))
    use_chain(primary, secondary)

    for _ in range(1, MAX_ATTEMPTS):
        delivery_send(delivery.pk)
        release_now(delivery)
    assert delivery_send(delivery.pk).next_step == NextStep.REQUEUE
    assert delivery_send(delivery.pk).next_step == NextStep.NONE

    delivery = reload(delivery)
    assert (delivery.status, delivery.provider, delivery.provider_message_id) == (
        Delivery.Status.SENT,
        "secondary",
        "sec-1",
    )


def test_permanent_error_fails_at_once_without_retry_or_failover(delivery, use_chain):
    primary = ScriptedProvider("primary", SendResult.permanent("MessageRejected", "bad address"))
    secondary = ScriptedProvider("secondary")
    use_chain(primary, secondary)

    step = delivery_send(delivery.pk)

    delivery = reload(delivery)
    assert step.next_step == NextStep.NONE
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.reason == "primary: MessageRejected bad address"
    assert delivery.attempts.get().outcome == DeliveryAttempt.Outcome.PERMANENT
    assert secondary.sent == []


def test_permanent_error_after_retries_fails_too(delivery, use_chain):
    use_chain(
        ScriptedProvider(
            "primary", SendResult.retryable("Throttling", "slow down"), SendResult.permanent("smtp_550", "no user")
        )
    )

    delivery_send(delivery.pk)
    release_now(delivery)
    delivery_send(delivery.pk)

    assert reload(delivery).status == Delivery.Status.FAILED
    assert delivery.attempts.count() == 2


def test_a_chain_shorter_than_the_provider_index_fails_the_delivery(db, use_chain):
    delivery = factories.DeliveryFactory(provider_index=2)
    provider = ScriptedProvider("only")
    use_chain(provider)

    delivery_send(delivery.pk)

    assert reload(delivery).status == Delivery.Status.FAILED
    assert delivery.reason == "no provider left in the chain"
    assert provider.sent == []


# --- in-app: the real inbox provider -------------------------------------------------------


@pytest.fixture
def in_app_delivery(db) -> Delivery:
    provider_chain.cache_clear()
    notification = factories.NotificationFactory()
    yield factories.DeliveryFactory(
        notification=notification,
        channel="in_app",
        content={"to": str(notification.recipient_id), "title": "Hello", "body": "Hi", "action_url": "/x"},
    )
    provider_chain.cache_clear()


def test_in_app_creates_one_inbox_item_even_when_sent_twice(in_app_delivery):
    assert delivery_send(in_app_delivery.pk).next_step == NextStep.NONE
    assert reload(in_app_delivery).status == Delivery.Status.DELIVERED
    # As if the sweeper re-sent it after losing track of the first send.
    Delivery.objects.filter(pk=in_app_delivery.pk).update(status=Delivery.Status.QUEUED)

    delivery_send(in_app_delivery.pk)

    item = InboxItem.objects.get()
    assert (item.notification_id, item.user_id) == (
        in_app_delivery.notification_id,
        in_app_delivery.notification.recipient_id,
    )
    assert (item.title, item.body, item.action_url) == ("Hello", "Hi", "/x")
    assert in_app_delivery.attempts.count() == 2
    assert set(in_app_delivery.attempts.values_list("provider_message_id", flat=True)) == {f"inbox-{item.pk}"}


def test_a_provider_fault_fails_over_at_once_but_a_bad_address_does_not(db, use_chain):
    misconfigured = factories.DeliveryFactory(channel="email")
    bad_address = factories.DeliveryFactory(channel="email")
    primary = ScriptedProvider(
        "primary", SendResult.misconfigured("20003", "bad credentials"), SendResult.permanent("21211", "bad number")
    )
    use_chain(primary, ScriptedProvider("secondary"))

    assert delivery_send(misconfigured.pk).next_step == NextStep.REQUEUE
    assert delivery_send(bad_address.pk).next_step == NextStep.NONE

    misconfigured = reload(misconfigured)
    assert (misconfigured.status, misconfigured.provider_index) == (Delivery.Status.QUEUED, 1)
    assert "misconfiguration: bad credentials" in misconfigured.reason
    bad_address = reload(bad_address)
    assert (bad_address.status, bad_address.attempts.count()) == (Delivery.Status.FAILED, 1)


def test_dead_push_tokens_deactivate_their_devices_and_tokens_reach_the_provider(db, use_chain):
    user = factories.UserFactory()
    alive = factories.DeviceFactory(user=user, token="alive")
    dead = factories.DeviceFactory(user=user, token="dead")
    delivery = factories.DeliveryFactory(channel="push", content={"to": "alive,dead", "tokens": ["alive", "dead"]})
    result = SendResult(Outcome.DELIVERED, provider_message_id="m-1", invalid_addresses=("dead",))
    provider = ScriptedProvider("fcm", result)
    use_chain(provider)

    delivery_send(delivery.pk)

    assert provider.sent[0].tokens == ("alive", "dead")
    alive.refresh_from_db()
    dead.refresh_from_db()
    assert (alive.active, dead.active) == (True, False)


def test_each_sms_attempt_records_its_encoding_and_segments(db, use_chain):
    delivery = factories.DeliveryFactory(channel="sms", content={"to": "+15555550100", "body": "Grüße 👋" * 20})
    use_chain(ScriptedProvider("twilio"))

    delivery_send(delivery.pk)

    attempt = reload(delivery).attempts.get()
    assert (attempt.sms_encoding, attempt.sms_segments) == ("UCS-2", 3)


def test_each_attempt_logs_one_line_with_its_context_and_the_address_masked(delivery, use_chain):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("delivery.sending")
    logger.addHandler(handler)
    try:
        use_chain(ScriptedProvider("primary"))
        delivery_send(delivery.pk)
    finally:
        logger.removeHandler(handler)

    entry = json.loads(stream.getvalue().splitlines()[-1])
    assert (entry["delivery_id"], entry["channel"], entry["provider"], entry["outcome"]) == (
        str(delivery.pk),
        "email",
        "primary",
        "delivered",
    )
    assert entry["address"] == "a***@example.com"
    assert "ada@example.com" not in stream.getvalue()
