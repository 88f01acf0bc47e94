"""The global rate limit per provider: a token bucket in the real Redis, shared by threads and
processes, and how `delivery_send` waits for it or sends later."""

from __future__ import annotations

import itertools
import json
import logging
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from delivery.models import Delivery
from delivery.provider_health import provider_slot_wait, redis_for_sending
from delivery.providers.base import OutgoingMessage, SendResult
from delivery.rate_limit import HEADROOM, TokenBucket
from delivery.sending import NextStep, delivery_send
from scripts.embedded_redis import free_port
from tests import factories
from tests.support.slot_taker import take_slots

RATE = 25.0


def per_second(times: Iterable[float]) -> Counter[int]:
    return Counter(int(t) for t in times)


def test_no_second_holds_more_grants_than_the_rate_across_threads_and_processes():
    per_taker, threads, processes = 10, 4, 2
    slots: list[float] = []
    lock = threading.Lock()

    def thread_taker() -> None:
        taken = take_slots(settings.REDIS_URL, "twilio", RATE, per_taker)
        with lock:
            slots.extend(taken)

    with ProcessPoolExecutor(max_workers=processes, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(take_slots, settings.REDIS_URL, "twilio", RATE, per_taker) for _ in range(processes)]
        workers = [threading.Thread(target=thread_taker) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
        for future in futures:
            slots.extend(future.result(timeout=60))

    assert len(slots) == per_taker * (threads + processes)
    assert max(per_second(slots).values()) <= RATE
    # Stronger: one slot per 1/rate seconds, whoever asks.
    ordered = sorted(slots)
    assert min(later - earlier for earlier, later in itertools.pairwise(ordered)) >= 1 / RATE - 1e-5


def test_buckets_are_per_provider():
    bucket = TokenBucket(redis.Redis.from_url(settings.REDIS_URL))

    assert bucket.acquire("twilio", 1, max_wait=0).granted
    assert bucket.acquire("ses", 1, max_wait=0).granted
    assert not bucket.acquire("twilio", 1, max_wait=0).granted


def test_a_slot_beyond_the_longest_wait_is_not_reserved():
    bucket = TokenBucket(redis.Redis.from_url(settings.REDIS_URL))
    first = bucket.acquire("twilio", 1, max_wait=0)

    refused = bucket.acquire("twilio", 1, max_wait=0.5)
    queued = bucket.acquire("twilio", 1, max_wait=5)

    assert first.granted and first.wait_seconds == 0
    assert not refused.granted and 0.5 < refused.wait_seconds <= 1 / (1 - HEADROOM)
    # Had the refused call reserved a slot, this one would wait over two seconds.
    assert queued.granted and 0.5 < queued.wait_seconds <= 1 / (1 - HEADROOM)


def test_rate_limits_are_read_from_the_environment():
    env = {**os.environ, "CLARION_RATE_LIMITS": "twilio=100,ses=14.5", "DJANGO_SETTINGS_MODULE": "config.settings"}
    code = "import json; from django.conf import settings; print(json.dumps(settings.CLARION_RATE_LIMITS))"

    output = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, check=True, timeout=60)

    assert json.loads(output.stdout) == {"twilio": 100.0, "ses": 14.5}


def test_a_provider_without_a_limit_never_touches_redis(settings, monkeypatch):
    settings.CLARION_RATE_LIMITS = {"ses": 14}

    def no_redis():
        raise AssertionError("Redis was asked")

    monkeypatch.setattr("delivery.provider_health.delivery_redis", no_redis)

    assert provider_slot_wait("twilio") == 0


def test_without_redis_the_limit_is_skipped_and_logged(settings, monkeypatch, caplog):
    settings.CLARION_RATE_LIMITS = {"twilio": 1}
    unreachable = redis_for_sending(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    monkeypatch.setattr("delivery.provider_health._token_bucket", lambda: TokenBucket(unreachable))
    logger = logging.getLogger("delivery.provider_health")
    logger.addHandler(caplog.handler)  # Clarion's loggers don't propagate to the root logger
    try:
        assert provider_slot_wait("twilio") == 0
    finally:
        logger.removeHandler(caplog.handler)

    assert "sending to twilio without its rate limit" in caplog.text


# --- delivery_send ---------------------------------------------------------------------------------


class CountingProvider:
    name = "twilio"

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []

    def send(self, message: OutgoingMessage) -> SendResult:
        self.sent.append(message)
        return SendResult.delivered(f"SM{len(self.sent)}")


@pytest.fixture
def twilio(monkeypatch) -> CountingProvider:
    provider = CountingProvider()
    monkeypatch.setattr("delivery.sending.provider_chain", lambda channel: (provider,))
    return provider


def sms_deliveries(count: int) -> list[Delivery]:
    return [
        factories.DeliveryFactory(channel="sms", content={"to": "+15555550123", "body": "Your code is 1234"})
        for _ in range(count)
    ]


def test_sends_within_the_bound_wait_for_their_slot_and_go(db, settings, twilio):
    settings.CLARION_RATE_LIMITS = {"twilio": 20}
    settings.CLARION_RATE_LIMIT_MAX_WAIT_SECONDS = 1
    deliveries = sms_deliveries(5)

    steps = [delivery_send(d.pk).next_step for d in deliveries]

    assert steps == [NextStep.NONE] * 5
    assert len(twilio.sent) == 5
    # Each waited for its slot: the attempts are 1/20 s apart or more.
    starts = [d.attempts.get().started_at for d in deliveries]
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(starts)]
    assert min(gaps) >= 1 / 20 - 0.005


def test_a_send_whose_slot_is_beyond_the_bound_is_rescheduled_not_dropped(db, settings, twilio):
    settings.CLARION_RATE_LIMITS = {"twilio": 0.5}  # one send per two seconds
    settings.CLARION_RATE_LIMIT_MAX_WAIT_SECONDS = 0.1
    first, second = sms_deliveries(2)
    before = timezone.now()

    assert delivery_send(first.pk).next_step == NextStep.NONE
    step = delivery_send(second.pk)

    second.refresh_from_db()
    assert step.next_step == NextStep.RETRY_LATER
    assert second.status == Delivery.Status.SCHEDULED
    assert second.scheduled_for == step.retry_at
    assert (step.retry_at - before).total_seconds() >= 1.5  # not before a token is free
    assert "rate limit" in second.reason
    assert (second.provider_attempts, second.attempts.count(), len(twilio.sent)) == (0, 0, 1)
