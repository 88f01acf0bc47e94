"""Deliver: claim a queued delivery, call its channel's current provider, record the attempt
and move the delivery on (sent, retry later, fail over, or failed)."""

from __future__ import annotations

import enum
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from delivery.chains import provider_chain
from delivery.devices import devices_deactivate
from delivery.models import Delivery, DeliveryAttempt
from delivery.provider_health import provider_choose, provider_result_record, provider_slot_wait
from delivery.providers.base import Outcome, OutgoingMessage, Provider, SendResult
from delivery.retry_policy import backoff_seconds
from delivery.sms_segments import sms_segments
from notifications.channels import Channel

logger = logging.getLogger(__name__)


class NextStep(enum.Enum):
    NONE = "none"  # nothing more to do: final, or not ours to send
    RETRY_LATER = "retry_later"  # scheduled; release at `retry_at`
    REQUEUE = "requeue"  # failed over to the next provider; send again now


@dataclass(frozen=True)
class SendStep:
    next_step: NextStep
    queue: str = ""
    retry_at: datetime | None = None
    failed: bool = False  # the delivery ended `failed`: its fallback channel, if any, is next


NOTHING_TO_DO = SendStep(NextStep.NONE)
FAILED_FOR_GOOD = SendStep(NextStep.NONE, failed=True)


def delivery_claim(delivery_id: int) -> datetime | None:
    """Take a queued delivery for sending; returns the claim's time, or None when the
    delivery is not queued (a redelivered task finds it claimed and stops)."""
    now = timezone.now()
    claimed = Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.QUEUED).update(
        status=Delivery.Status.SENDING, claimed_at=now, updated_at=now
    )
    return now if claimed else None


def outgoing_message(delivery: Delivery) -> OutgoingMessage:
    content = delivery.content
    return OutgoingMessage(
        channel=delivery.channel,
        reference=str(delivery.pk),
        to=content.get("to", ""),
        subject=content.get("subject", ""),
        title=content.get("title", ""),
        body=content.get("body", ""),
        html_body=content.get("html_body", ""),
        action_url=content.get("action_url", ""),
        tokens=tuple(content.get("tokens", ())),
        unsubscribe_url=content.get("unsubscribe_url", ""),
        data={
            "notification_id": str(delivery.notification_id),
            "delivery_id": str(delivery.pk),
            # Quiet hours or a pause: in-app items are stored at once but pushed silently.
            **({"silent": "1"} if content.get("silent") else {}),
        },
    )


def delivery_send(delivery_id: int) -> SendStep:
    if delivery_claim(delivery_id) is None:
        return NOTHING_TO_DO
    delivery = Delivery.objects.get(pk=delivery_id)
    chain = provider_chain(delivery.channel)
    if delivery.provider_index >= len(chain):
        _finish(delivery, Delivery.Status.FAILED, reason="no provider left in the chain")
        return FAILED_FOR_GOOD
    choice = provider_choose(chain, delivery.provider_index)
    if choice.index is None:
        # Not a failure: every provider left is known to be down, so nothing is attempted.
        return _wait(delivery, choice.retry_at, f"waiting: {choice.note}")
    if choice.index != delivery.provider_index:
        _move_along_chain(delivery, choice.index, choice.note)
    provider = chain[choice.index]
    wait = provider_slot_wait(provider.name)
    if wait:
        # Spread the sends that found the queue for slots too long, so they don't return together.
        retry_at = timezone.now() + timedelta(seconds=wait * random.uniform(1, 2))  # noqa: S311
        return _wait(delivery, retry_at, f"waiting {wait:.1f}s for {provider.name}'s rate limit")
    message = outgoing_message(delivery)
    started_at = timezone.now()
    result = provider.send(message)
    finished_at = timezone.now()
    encoding, segments = sms_segments(message.body) if delivery.channel == Channel.SMS else ("", None)
    DeliveryAttempt.objects.create(
        delivery=delivery,
        provider=provider.name,
        started_at=started_at,
        finished_at=finished_at,
        outcome=result.outcome,
        error_code=result.error_code,
        error_message=result.error_message,
        provider_message_id=result.provider_message_id,
        sms_encoding=encoding,
        sms_segments=segments,
        note=f"passed over: {choice.note}"[:200] if choice.note else "",
    )
    provider_result_record(provider.name, result, probe=choice.probe)
    logger.info(
        "delivery attempt: %s",
        result.outcome,
        extra={
            "notification_id": delivery.notification_id,
            "delivery_id": delivery.pk,
            "channel": delivery.channel,
            "provider": provider.name,
            "outcome": result.outcome,
            "error_code": result.error_code or None,
            "address": message.to,  # masked by the JSON formatter
        },
    )
    if result.invalid_addresses and delivery.channel == Channel.PUSH:
        devices_deactivate(result.invalid_addresses)
    return _apply_result(delivery, provider, result, len(chain), finished_at)


def _apply_result(
    delivery: Delivery, provider: Provider, result: SendResult, chain_length: int, now: datetime
) -> SendStep:
    if result.outcome == Outcome.DELIVERED:
        final = Delivery.Status.DELIVERED if delivery.channel == Channel.IN_APP else Delivery.Status.SENT
        _finish(
            delivery,
            final,
            reason=f"accepted by {provider.name}",
            provider=provider.name,
            provider_message_id=result.provider_message_id,
            sent_at=now,
        )
        return NOTHING_TO_DO
    failure = f"{provider.name}: {result.error_code} {result.error_message}".strip()[:400]
    if result.outcome == Outcome.PERMANENT:
        if result.provider_fault:
            # The provider, not the message, is at fault: the next one may succeed. A bad
            # address is bad everywhere, so that does not fail over.
            return _fail_over_or_fail(delivery, provider, chain_length, f"{failure}"[:500])
        _finish(delivery, Delivery.Status.FAILED, reason=failure, provider=provider.name)
        return FAILED_FOR_GOOD

    attempts = delivery.provider_attempts + 1
    if attempts < settings.CLARION_MAX_ATTEMPTS_PER_PROVIDER:
        delay = backoff_seconds(
            attempts,
            settings.CLARION_RETRY_BASE_SECONDS,
            settings.CLARION_RETRY_MAX_SECONDS,
            result.retry_after_seconds,
        )
        retry_at = now + timedelta(seconds=delay)
        _finish(
            delivery,
            Delivery.Status.SCHEDULED,
            reason=f"retry {attempts} in {delay:.1f}s after {failure}"[:500],
            provider=provider.name,
            provider_attempts=attempts,
            scheduled_for=retry_at,
        )
        return SendStep(NextStep.RETRY_LATER, queue=delivery.queue, retry_at=retry_at)
    return _fail_over_or_fail(delivery, provider, chain_length, f"after {attempts} attempts: {failure}")


def _fail_over_or_fail(delivery: Delivery, provider: Provider, chain_length: int, why: str) -> SendStep:
    if delivery.provider_index + 1 < chain_length:
        _finish(
            delivery,
            Delivery.Status.QUEUED,
            reason=f"failing over {why}"[:500],
            provider=provider.name,
            provider_index=delivery.provider_index + 1,
            provider_attempts=0,
        )
        return SendStep(NextStep.REQUEUE, queue=delivery.queue)
    _finish(delivery, Delivery.Status.FAILED, reason=f"gave up {why}"[:500], provider=provider.name)
    return FAILED_FOR_GOOD


def _move_along_chain(delivery: Delivery, index: int, why: str) -> None:
    """Hand the delivery to a later provider of its chain, as a failover does, without spending
    attempts on the providers passed over; their breakers say they would fail."""
    Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.SENDING, claimed_at=delivery.claimed_at).update(
        provider_index=index, provider_attempts=0, reason=f"passed over: {why}"[:500], updated_at=timezone.now()
    )
    delivery.provider_index, delivery.provider_attempts = index, 0


def _wait(delivery: Delivery, retry_at: datetime, why: str) -> SendStep:
    """Send later without counting an attempt: nothing was sent."""
    _finish(delivery, Delivery.Status.SCHEDULED, reason=why[:500], scheduled_for=retry_at)
    return SendStep(NextStep.RETRY_LATER, queue=delivery.queue, retry_at=retry_at)


def _finish(delivery: Delivery, status: str, **fields: object) -> None:
    """Leave `sending` for `status`, guarded so only this claim moves the row: a worker the
    sweeper gave up on must not overwrite the result of the claim that replaced it."""
    updated = Delivery.objects.filter(
        pk=delivery.pk, status=Delivery.Status.SENDING, claimed_at=delivery.claimed_at
    ).update(status=status, updated_at=timezone.now(), **fields)
    if not updated:
        logger.warning("delivery %s left sending before its result was recorded", delivery.pk)


def delivery_release(delivery_id: int, now: datetime | None = None) -> str | None:
    """Move a scheduled delivery whose time has come to `queued`; returns its queue."""
    now = now or timezone.now()
    delivery = (
        Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.SCHEDULED).only("queue", "scheduled_for").first()
    )
    if delivery is None or (delivery.scheduled_for and delivery.scheduled_for > now + timedelta(seconds=1)):
        return None
    released = Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.SCHEDULED).update(
        status=Delivery.Status.QUEUED, updated_at=now
    )
    return delivery.queue if released else None
