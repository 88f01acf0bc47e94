"""Sending a chunk with its provider calls overlapped (delivery/send_pool.py).

Providers are scripted fakes (as in test_sending.py) that count, with a lock, how many of
their calls are in flight at once; nothing here measures time. Timeouts on events are only
bounds on how long a broken pool could keep a test waiting.
"""

from __future__ import annotations

import json
import threading
from base64 import b64decode
from collections import Counter

import pytest
from django.db.backends.signals import connection_created

from config.celery import ALL_QUEUES, CRITICAL_QUEUE
from delivery.chains import provider_chain
from delivery.models import Delivery, DeliveryAttempt, ProviderHealth
from delivery.providers.base import OutgoingMessage, SendResult
from delivery.send_pool import deliveries_send
from delivery.sending import NextStep, SendStep
from delivery.tasks import delivery_send_task
from notifications.models import InboxItem
from scripts.run import WORKER_TOPOLOGY
from tests import factories

CONCURRENCY = 4
WAIT = 10  # seconds; only reached when the pool is broken


class GatedProvider:
    """Holds its first `gate` calls until that many are in flight together, then lets every
    call through; counts the most calls it ever had in flight at once. A pool that did not
    overlap calls would never open the gate (the first call would wait out WAIT alone)."""

    def __init__(self, name: str = "gated", gate: int = CONCURRENCY, answer=None) -> None:
        self.name = name
        self.gate = gate
        self.answer = answer or (lambda message: SendResult.delivered(f"{name}-{message.reference}"))
        self.in_flight = 0
        self.most_in_flight = 0
        self.calls: Counter[str] = Counter()
        self.threads: set[str] = set()
        self._lock = threading.Lock()
        self._open = threading.Event()

    def send(self, message: OutgoingMessage) -> SendResult:
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self.calls[message.reference] += 1
            self.threads.add(threading.current_thread().name)
            if self.in_flight >= self.gate:
                self._open.set()
        try:
            self._open.wait(WAIT)
            return self.answer(message)
        finally:
            with self._lock:
                self.in_flight -= 1


@pytest.fixture
def use_chain(monkeypatch):
    def install(*providers) -> None:
        monkeypatch.setattr("delivery.sending.provider_chain", lambda channel: providers)

    return install


def _emails(count: int, queue: str = "email") -> list[int]:
    return [
        factories.DeliveryFactory(channel="email", queue=queue, content={"to": f"user{n}@example.com"}).pk
        for n in range(count)
    ]


class Steps:
    """The `on_step` handler: every step it was handed, by delivery."""

    def __init__(self) -> None:
        self.by_delivery: dict[int, list[SendStep]] = {}

    def __call__(self, delivery_id: int, step: SendStep) -> None:
        self.by_delivery.setdefault(delivery_id, []).append(step)


def test_a_chunks_provider_calls_overlap_up_to_the_concurrency_and_no_further(db, use_chain):
    provider = GatedProvider()
    use_chain(provider)
    ids = _emails(3 * CONCURRENCY + 1)

    deliveries_send(ids, Steps(), concurrency=CONCURRENCY)

    assert provider.most_in_flight == CONCURRENCY
    assert len(provider.threads) == CONCURRENCY
    assert Delivery.objects.filter(pk__in=ids, status=Delivery.Status.SENT).count() == len(ids)


def test_each_delivery_is_sent_and_recorded_once_with_its_own_result(db, use_chain):
    ids = _emails(25)
    refused = {str(pk) for pk in ids[::5]}

    def answer(message: OutgoingMessage) -> SendResult:
        if message.reference in refused:
            return SendResult.permanent("MessageRejected", f"no such user {message.to}")
        return SendResult.delivered(f"msg-{message.reference}")

    provider = GatedProvider(answer=answer)
    use_chain(provider)
    steps = Steps()

    deliveries_send(ids, steps, concurrency=CONCURRENCY)

    assert provider.calls == Counter({str(pk): 1 for pk in ids})
    assert {pk: len(handed) for pk, handed in steps.by_delivery.items()} == dict.fromkeys(ids, 1)
    for delivery in Delivery.objects.filter(pk__in=ids).prefetch_related("attempts"):
        (attempt,) = delivery.attempts.all()
        if str(delivery.pk) in refused:
            assert (delivery.status, attempt.outcome) == (Delivery.Status.FAILED, DeliveryAttempt.Outcome.PERMANENT)
            assert attempt.error_message == f"no such user {delivery.content['to']}"
            assert steps.by_delivery[delivery.pk] == [SendStep(NextStep.NONE, failed=True)]
        else:
            assert (delivery.status, delivery.provider_message_id) == (Delivery.Status.SENT, f"msg-{delivery.pk}")
            assert attempt.provider_message_id == f"msg-{delivery.pk}"


def test_a_provider_that_raises_fails_only_its_own_send(db, use_chain):
    ids = _emails(10)
    broken = str(ids[3])

    def answer(message: OutgoingMessage) -> SendResult:
        if message.reference == broken:
            raise RuntimeError("adapter bug")
        return SendResult.delivered("ok")

    use_chain(GatedProvider(answer=answer))
    steps = Steps()

    with pytest.raises(RuntimeError, match="adapter bug"):
        deliveries_send(ids, steps, concurrency=CONCURRENCY)

    others = [pk for pk in ids if str(pk) != broken]
    assert Delivery.objects.filter(pk__in=others, status=Delivery.Status.SENT).count() == len(others)
    assert set(steps.by_delivery) == set(others)
    # As a crash would leave it: the sweeper sends it again after the sending grace.
    assert Delivery.objects.get(pk=broken).status == Delivery.Status.SENDING
    assert not DeliveryAttempt.objects.filter(delivery_id=broken).exists()


def test_a_chunk_stopped_early_records_its_calls_in_flight_once_and_claims_no_more(db, use_chain):
    provider = GatedProvider()
    use_chain(provider)
    ids = _emails(3 * CONCURRENCY)

    def publish_fails(delivery_id: int, step: SendStep) -> None:
        raise ConnectionError("broker down")

    with pytest.raises(ConnectionError, match="broker down"):
        deliveries_send(ids, publish_fails, concurrency=CONCURRENCY)

    attempts = Counter(DeliveryAttempt.objects.values_list("delivery_id", flat=True))
    sent = set(Delivery.objects.filter(pk__in=ids, status=Delivery.Status.SENT).values_list("pk", flat=True))
    # Every call the provider took is recorded, once: none is left for the sweeper to repeat.
    assert set(attempts) == sent == {int(reference) for reference in provider.calls}
    assert set(attempts.values()) == {1}
    assert len(sent) == CONCURRENCY
    assert Delivery.objects.filter(pk__in=ids, status=Delivery.Status.QUEUED).count() == len(ids) - CONCURRENCY


def test_deliveries_are_claimed_only_as_the_window_has_room(db, use_chain):
    use_chain(GatedProvider())
    ids = _emails(5 * CONCURRENCY)
    seen: list[tuple[int, int]] = []

    def count_states(delivery_id: int, step: SendStep) -> None:
        states = Counter(Delivery.objects.filter(pk__in=ids).values_list("status", flat=True))
        seen.append((states[Delivery.Status.SENDING], states[Delivery.Status.QUEUED]))

    deliveries_send(ids, count_states, concurrency=CONCURRENCY)

    # A worker dying mid-chunk leaves no more deliveries in doubt than it has calls in flight.
    assert max(sending for sending, _ in seen) < CONCURRENCY
    # The first results came back with only the first window claimed.
    assert seen[0][1] == len(ids) - CONCURRENCY


def test_pool_threads_open_no_database_connection_and_breaker_changes_are_still_recorded(db, use_chain, settings):
    settings.CLARION_BREAKER_MIN_VOLUME = 2
    opened_on: list[str] = []

    def note_thread(sender, connection, **kwargs) -> None:
        opened_on.append(threading.current_thread().name)

    failing = GatedProvider("flaky", answer=lambda message: SendResult.retryable("UNAVAILABLE", "down"))
    use_chain(failing)
    ids = _emails(2 * CONCURRENCY)
    connection_created.connect(note_thread)
    try:
        deliveries_send(ids, Steps(), concurrency=CONCURRENCY)
    finally:
        connection_created.disconnect(note_thread)

    assert failing.most_in_flight == CONCURRENCY
    assert all(name.startswith("clarion-send") for name in failing.threads)
    assert opened_on == []
    # The breaker opened on a pool thread; its snapshot was written on the task's.
    assert ProviderHealth.objects.get(provider="flaky").state == ProviderHealth.State.OPEN


def test_local_providers_send_on_the_tasks_thread(db):
    provider_chain.cache_clear()
    try:
        notification = factories.NotificationFactory()
        delivery = factories.DeliveryFactory(
            notification=notification,
            channel="in_app",
            queue="in_app",
            content={"to": str(notification.recipient_id), "title": "Hello", "body": "Hi"},
        )

        deliveries_send([delivery.pk], Steps(), concurrency=CONCURRENCY)
    finally:
        provider_chain.cache_clear()

    # Written through the test's own connection: a pool thread's would not see this test's rows.
    assert InboxItem.objects.get().notification_id == notification.pk
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED


def _queued_messages(redis_client, queue: str) -> list[dict]:
    """What waits on a Celery queue in Redis: each message's task name, args and ETA."""
    messages = []
    for raw in redis_client.lrange(queue, 0, -1):
        message = json.loads(raw)
        args, _, _ = json.loads(b64decode(message["body"]))
        messages.append({"task": message["headers"]["task"], "args": args, "eta": message["headers"]["eta"]})
    return messages


def test_deliveries_failing_over_together_go_on_as_one_chunk(db, use_chain, redis_client):
    redis_client.flushdb()
    use_chain(
        GatedProvider("primary", answer=lambda message: SendResult.misconfigured("20003", "bad credentials")),
        GatedProvider("secondary"),
    )
    ids = _emails(2 * CONCURRENCY)

    delivery_send_task(ids)

    (chunk,) = _queued_messages(redis_client, "email")
    assert (chunk["task"], sorted(chunk["args"][0]), chunk["eta"]) == ("delivery.tasks.delivery_send_task", ids, None)
    assert Delivery.objects.filter(pk__in=ids, status=Delivery.Status.QUEUED, provider_index=1).count() == len(ids)
    redis_client.flushdb()


def test_a_critical_retry_is_released_from_the_critical_queue(db, use_chain, redis_client):
    redis_client.flushdb()
    use_chain(GatedProvider(gate=1, answer=lambda message: SendResult.retryable("Throttling", "slow down")))
    (critical,) = _emails(1, queue=CRITICAL_QUEUE)
    (bulk,) = _emails(1)

    delivery_send_task([critical])
    delivery_send_task([bulk])

    (release,) = _queued_messages(redis_client, CRITICAL_QUEUE)
    assert (release["task"], release["args"]) == ("delivery.tasks.delivery_release_task", [critical])
    assert release["eta"] is not None
    assert [message["args"] for message in _queued_messages(redis_client, "scheduled")] == [[bulk]]
    redis_client.flushdb()


def test_the_worker_topology_consumes_every_queue_once_and_critical_alone():
    consumed = {name: options[options.index("--queues") + 1].split(",") for name, options in WORKER_TOPOLOGY.items()}

    assert Counter(queue for queues in consumed.values() for queue in queues) == Counter(ALL_QUEUES)
    assert [CRITICAL_QUEUE] in consumed.values()
