"""Deliver: claim queued deliveries, call each one's current provider, record the attempt and
move the delivery on (sent, retry later, fail over, or failed).

A send has three steps so that a chunk's provider calls can overlap (delivery/send_pool.py):
`send_prepare` (after the claim: the chain and the message), `provider_call` (breakers choose
the provider, its rate-limit slot, its answer, the breaker counts it: Redis and the provider
only, so any thread may run it) and `send_record` (attempt and status, on the thread that
holds the database connection). `delivery_send` runs the three in a row for one delivery."""

from __future__ import annotations

import contextlib
import enum
import logging
import random
import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from delivery.breaker import Breaker
from delivery.breaker_store import Transition
from delivery.chains import provider_chain
from delivery.devices import devices_deactivate
from delivery.models import Delivery, DeliveryAttempt
from delivery.provider_health import (
    ProviderChoice,
    provider_choose,
    provider_health_record,
    provider_results_record,
    provider_slot_wait,
)
from delivery.providers.base import (
    Outcome,
    OutgoingMessage,
    Provider,
    SendResult,
    provider_is_local,
    provider_send_many,
)
from delivery.retry_policy import backoff_seconds
from delivery.send_statements import (
    DeliveryFinish,
    attempts_insert_and_deliveries_finish,
    deliveries_claim_returning,
)
from delivery.sms_segments import sms_segments
from monitoring.metrics import attempt_record
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


def deliveries_claim(delivery_ids: Sequence[int]) -> list[Delivery]:
    """Take the queued ones of these deliveries for sending (`queued → sending`), at once;
    returns those taken, in the order given. A delivery that is not queued is not ours to
    send: a redelivered task finds its deliveries claimed and sends nothing.

    Rows locked by another transaction are skipped, not waited for: whoever holds them is
    claiming them too, or releasing or re-enqueueing them, which publishes them again. On
    PostgreSQL that is one statement (delivery/send_statements.py); SQLite has no row locks,
    and its transactions take the write lock up front, which serializes claims.
    """
    now = timezone.now()
    if connection.vendor == "postgresql":
        rows = deliveries_claim_returning(delivery_ids, now)
    else:
        with transaction.atomic():
            rows = list(
                Delivery.objects.select_for_update(skip_locked=True).filter(
                    pk__in=delivery_ids, status=Delivery.Status.QUEUED
                )
            )
            Delivery.objects.filter(pk__in=[row.pk for row in rows]).update(
                status=Delivery.Status.SENDING, claimed_at=now, updated_at=now
            )
        for row in rows:
            row.status, row.claimed_at, row.updated_at = Delivery.Status.SENDING, now, now
    by_pk = {row.pk: row for row in rows}
    return [by_pk[pk] for pk in dict.fromkeys(delivery_ids) if pk in by_pk]


def delivery_claim(delivery_id: int) -> Delivery | None:
    """Take one queued delivery for sending; None when it is not queued."""
    claimed = deliveries_claim([delivery_id])
    return claimed[0] if claimed else None


def outgoing_message(delivery: Delivery) -> OutgoingMessage:
    return message_from_content(str(delivery.pk), str(delivery.notification_id), delivery.channel, delivery.content)


def message_from_content(reference: str, notification_id: str, channel: str, content: dict) -> OutgoingMessage:
    """The provider-neutral message for a delivery's rendered content."""
    return OutgoingMessage(
        channel=channel,
        reference=reference,
        to=content.get("to", ""),
        subject=content.get("subject", ""),
        title=content.get("title", ""),
        body=content.get("body", ""),
        html_body=content.get("html_body", ""),
        action_url=content.get("action_url", ""),
        tokens=tuple(content.get("tokens", ())),
        unsubscribe_url=content.get("unsubscribe_url", ""),
        data={
            "notification_id": notification_id,
            "delivery_id": reference,
            # Quiet hours or a pause: in-app items are stored at once but pushed silently.
            **({"silent": "1"} if content.get("silent") else {}),
        },
    )


@dataclass(frozen=True)
class PreparedSend:
    """A claimed delivery, its channel's provider chain and the message to send."""

    delivery: Delivery
    chain: tuple[Provider, ...]
    message: OutgoingMessage

    @property
    def local(self) -> bool:
        """Whether a provider it may go to writes to Clarion's own database (outbox, inbox):
        such a send runs on the task's thread."""
        return any(provider_is_local(provider) for provider in self.chain[self.delivery.provider_index :])


@dataclass(frozen=True)
class ProviderCall:
    """What calling the provider came to. Without a `result` nothing was sent: every provider
    left is known to be down (`choice.index` is None), or the chosen one's rate limit had no
    slot within the bound (`slot_wait` is the seconds until one). Breaker changes are kept in
    `transitions` for the task's thread to record."""

    choice: ProviderChoice
    started_at: datetime
    finished_at: datetime
    result: SendResult | None = None
    slot_wait: float = 0.0
    transitions: tuple[Transition, ...] = ()


# Chains are built on first use, and building one twice at once is not safe (boto3's default
# session): the critical worker runs its tasks on threads.
_chain_lock = threading.Lock()


def send_prepare(delivery: Delivery) -> PreparedSend | SendStep:
    """What a claimed delivery needs for its provider call; a SendStep when there is no
    provider left to call."""
    with _chain_lock:
        chain = provider_chain(delivery.channel)
    if delivery.provider_index >= len(chain):
        _finish(delivery, Delivery.Status.FAILED, reason="no provider left in the chain")
        return FAILED_FOR_GOOD
    return PreparedSend(delivery=delivery, chain=chain, message=outgoing_message(delivery))


def provider_call(prepared: PreparedSend) -> ProviderCall:
    """Choose the provider by its breakers, wait for a slot under its rate limit, send, and
    count the result in its breaker. Redis and the provider only, no database: the send
    pool's threads run this (delivery/send_pool.py)."""
    return provider_calls([prepared])[0]


def provider_calls(sends: Sequence[PreparedSend]) -> list[ProviderCall]:
    """`provider_call` for several sends, in order: each chooses its provider and waits for
    its slot on its own, then the sends going to the same provider go together, through its
    `send_many` where it has one (a chunk's in-app items: a few queries, not a few each)."""
    transitions: list[list[Transition]] = [[] for _ in sends]
    breakers_read: dict[str, Breaker] = {}
    choices = [
        provider_choose(
            prepared.chain,
            prepared.delivery.provider_index,
            on_transition=transitions[i].append,
            breakers_read=breakers_read,
        )
        for i, prepared in enumerate(sends)
    ]
    calls: list[ProviderCall | None] = [None] * len(sends)
    by_provider: dict[str, list[int]] = defaultdict(list)
    for i, (prepared, choice) in enumerate(zip(sends, choices, strict=True)):
        now = timezone.now()
        if choice.index is None:
            calls[i] = ProviderCall(choice, started_at=now, finished_at=now, transitions=tuple(transitions[i]))
            continue
        name = prepared.chain[choice.index].name
        wait = provider_slot_wait(name)
        if wait:
            now = timezone.now()
            calls[i] = ProviderCall(choice, now, now, slot_wait=wait, transitions=tuple(transitions[i]))
            continue
        by_provider[name].append(i)
    for indexes in by_provider.values():
        provider = sends[indexes[0]].chain[choices[indexes[0]].index]
        started_at = timezone.now()
        results = provider_send_many(provider, [sends[i].message for i in indexes])
        finished_at = timezone.now()
        # The breaker moves once for the lot; its change is recorded with the last of them.
        provider_results_record(
            provider.name,
            [(result, choices[i].probe) for i, result in zip(indexes, results, strict=True)],
            on_transition=transitions[indexes[-1]].append,
        )
        for i, result in zip(indexes, results, strict=True):
            calls[i] = ProviderCall(
                choices[i], started_at, finished_at, result=result, transitions=tuple(transitions[i])
            )
    return calls


def sends_record(sends: Sequence[tuple[PreparedSend, ProviderCall]]) -> list[SendStep]:
    """Record what provider calls came to and move their deliveries on; returns their next
    steps, in order. Calls that came back together are written together, with one insert for
    their attempts and one update for their successes: their sends are over either way, and
    a few statements per round instead of two per send is what keeps up with the provider
    calls. A round of plain successes is one statement on PostgreSQL; anything else is
    written in one transaction."""
    one_statement = connection.vendor == "postgresql" and all(_plain_success(*send) for send in sends)
    with contextlib.nullcontext() if one_statement else transaction.atomic():
        for _, call in sends:
            for transition in call.transitions:
                provider_health_record(transition)
        attempts = [
            attempt for attempt in (_attempt(prepared, call) for prepared, call in sends) if attempt is not None
        ]
        finished: list[DeliveryFinish] = []
        steps = [_move_on(prepared, call, finished) for prepared, call in sends]
        _results_write(attempts, finished)
        return steps


def _plain_success(prepared: PreparedSend, call: ProviderCall) -> bool:
    """Whether recording this call writes nothing but its attempt and its delivery's success."""
    result, choice = call.result, call.choice
    return (
        result is not None
        and result.outcome == Outcome.DELIVERED
        and not result.invalid_addresses
        and choice.index == prepared.delivery.provider_index
        and not call.transitions
    )


def send_record(prepared: PreparedSend, call: ProviderCall) -> SendStep:
    return sends_record([(prepared, call)])[0]


def _attempt(prepared: PreparedSend, call: ProviderCall) -> DeliveryAttempt | None:
    """The attempt a call made, unsaved; None when nothing was sent."""
    result, choice = call.result, call.choice
    if result is None or choice.index is None:
        return None
    encoding, segments = sms_segments(prepared.message.body) if prepared.delivery.channel == Channel.SMS else ("", None)
    return DeliveryAttempt(
        delivery=prepared.delivery,
        provider=prepared.chain[choice.index].name,
        started_at=call.started_at,
        finished_at=call.finished_at,
        outcome=result.outcome,
        error_code=result.error_code,
        error_message=result.error_message,
        provider_message_id=result.provider_message_id,
        sms_encoding=encoding,
        sms_segments=segments,
        note=f"passed over: {choice.note}"[:200] if choice.note else "",
    )


def _move_on(prepared: PreparedSend, call: ProviderCall, finished: list[DeliveryFinish]) -> SendStep:
    delivery, message, choice, result = prepared.delivery, prepared.message, call.choice, call.result
    if choice.index is None:
        # Not a failure: every provider left is known to be down, so nothing is attempted.
        return _wait(delivery, choice.retry_at, f"waiting: {choice.note}")
    if choice.index != delivery.provider_index:
        _move_along_chain(delivery, choice.index, choice.note)
    provider = prepared.chain[choice.index]
    if result is None:
        # Spread the sends that found the queue for slots too long, so they don't return together.
        retry_at = timezone.now() + timedelta(seconds=call.slot_wait * random.uniform(1, 2))  # noqa: S311
        return _wait(delivery, retry_at, f"waiting {call.slot_wait:.1f}s for {provider.name}'s rate limit")
    started_at, finished_at = call.started_at, call.finished_at
    attempt_record(delivery.channel, provider.name, result.outcome, (finished_at - started_at).total_seconds())
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
    if result.outcome == Outcome.DELIVERED:
        # The common case, written with the round's other successes in one statement.
        finished.append(_delivered(delivery, provider, result, finished_at))
        return NOTHING_TO_DO
    return _apply_failure(delivery, provider, result, len(prepared.chain), finished_at)


def delivery_send(delivery_id: int) -> SendStep:
    """Send one delivery, all on this thread; `deliveries_send` sends a chunk of them."""
    delivery = delivery_claim(delivery_id)
    if delivery is None:
        return NOTHING_TO_DO
    prepared = send_prepare(delivery)
    if isinstance(prepared, SendStep):
        return prepared
    return send_record(prepared, provider_call(prepared))


def _apply_failure(
    delivery: Delivery, provider: Provider, result: SendResult, chain_length: int, now: datetime
) -> SendStep:
    """Move on after a send the provider did not take: retry later, fail over, or fail."""
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


def _delivered(delivery: Delivery, provider: Provider, result: SendResult, now: datetime) -> DeliveryFinish:
    final = Delivery.Status.DELIVERED if delivery.channel == Channel.IN_APP else Delivery.Status.SENT
    return DeliveryFinish(
        delivery, final, f"accepted by {provider.name}", provider.name, result.provider_message_id, now
    )


def _results_write(attempts: Sequence[DeliveryAttempt], finishes: Sequence[DeliveryFinish]) -> None:
    """A round's attempts, and its successes moved from `sending`, each under the same guard
    as `_finish` (delivery/send_statements.py)."""
    updated = attempts_insert_and_deliveries_finish(attempts, finishes, timezone.now())
    if updated != len(finishes):
        logger.warning(
            "%d of %d deliveries left sending before their results were recorded",
            len(finishes) - max(updated, 0),
            len(finishes),
        )


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
