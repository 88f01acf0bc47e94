"""Circuit breakers: the pure state machine, its Redis store shared by workers, and how
`delivery_send` routes around an open breaker."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter, deque
from dataclasses import replace

import pytest
import redis
from django.conf import settings
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from delivery.breaker import (
    DEAD_RATE,
    FULL_WEIGHT,
    WEIGHT_STEP,
    Admission,
    Breaker,
    BreakerConfig,
    BreakerState,
    SendOutcome,
    Window,
    breaker_admit,
    breaker_record,
    counts_as_failure,
    window_stale,
    window_sum,
)
from delivery.breaker_store import BreakerStore, breaker_decode, breaker_encode
from delivery.models import Delivery, DeliveryAttempt, ProviderHealth
from delivery.provider_health import breaker_store, delivery_redis, provider_choose, redis_for_sending
from delivery.providers.base import OutgoingMessage, SendResult
from delivery.sending import NextStep, delivery_send
from scripts.embedded_redis import free_port
from tests import factories

CONFIG = BreakerConfig(threshold=0.95, window_seconds=60, min_volume=20, cooldown_seconds=30, probes=3)
T0 = 1_000_000.0
HEALTHY = Window(successes=100)
SICK = Window(successes=80, failures=20)  # 80%: below the threshold, above the dead rate
DEAD = Window(successes=5, failures=15)
RETRYABLE = SendResult.retryable("20503", "Service Unavailable")
BAD_ADDRESS = SendResult.permanent("21211", "Invalid 'To' Phone Number")


def record(breaker: Breaker, now: float, window: Window, *, failed: bool = False, probe: bool = False) -> Breaker:
    return breaker_record(breaker, CONFIG, now, failed=failed, probe=probe, window=window)


def opened_at(now: float) -> Breaker:
    return Breaker(BreakerState.OPEN, weight=0, changed_at=now, stepped_at=now)


# --- the state machine -----------------------------------------------------------------------


def test_a_healthy_closed_breaker_admits_every_send():
    breaker = record(Breaker(), T0, HEALTHY)

    assert breaker == Breaker()
    assert {breaker_admit(breaker, CONFIG, T0, draw)[0] for draw in (0.0, 0.5, 0.999)} == {Admission.SEND}


def test_failures_below_the_minimum_volume_do_not_open_it():
    breaker = record(Breaker(), T0, Window(failures=CONFIG.min_volume - 1), failed=True)

    assert breaker == Breaker()


def test_a_dead_provider_opens_at_once():
    breaker = record(Breaker(), T0, DEAD, failed=True)

    assert breaker == opened_at(T0)
    assert breaker_admit(breaker, CONFIG, T0 + CONFIG.cooldown_seconds - 0.1, 0.0) == (Admission.DENY, breaker)


def test_a_sick_provider_sheds_a_step_of_weight_per_interval_and_the_shed_sends_go_elsewhere():
    breaker = record(Breaker(), T0, SICK, failed=True)
    assert (breaker.state, breaker.weight) == (BreakerState.CLOSED, FULL_WEIGHT - WEIGHT_STEP)

    # Not again within the same step interval, however many failures arrive.
    assert record(breaker, T0 + CONFIG.step_seconds / 2, SICK, failed=True) == breaker
    breaker = record(breaker, T0 + CONFIG.step_seconds, SICK, failed=True)
    assert breaker.weight == FULL_WEIGHT - 2 * WEIGHT_STEP

    # At 80% weight, draws from 0.8 up are shed.
    assert breaker_admit(breaker, CONFIG, T0, 0.79)[0] == Admission.SEND
    assert breaker_admit(breaker, CONFIG, T0, 0.80)[0] == Admission.SHED


def test_a_sick_provider_opens_when_its_weight_runs_out():
    breaker = Breaker(weight=WEIGHT_STEP, stepped_at=T0)

    assert record(breaker, T0 + 1, SICK, failed=True) == opened_at(T0 + 1)


def test_after_the_cooldown_only_the_configured_probes_go_through():
    breaker = opened_at(T0)
    now = T0 + CONFIG.cooldown_seconds
    admissions = []
    for _ in range(CONFIG.probes + 2):
        admission, breaker = breaker_admit(breaker, CONFIG, now, 0.0)
        admissions.append(admission)

    assert admissions == [Admission.PROBE] * CONFIG.probes + [Admission.DENY] * 2
    assert (breaker.state, breaker.probes_granted, breaker.changed_at) == (BreakerState.HALF_OPEN, CONFIG.probes, now)


def test_probes_that_all_succeed_close_it_at_one_step_of_weight():
    breaker = Breaker(BreakerState.HALF_OPEN, weight=0, changed_at=T0, probes_granted=CONFIG.probes)
    for passed in range(1, CONFIG.probes):
        breaker = record(breaker, T0 + passed, DEAD, probe=True)
        assert (breaker.state, breaker.probes_passed) == (BreakerState.HALF_OPEN, passed)

    breaker = record(breaker, T0 + 5, DEAD, probe=True)

    assert breaker == Breaker(BreakerState.CLOSED, weight=WEIGHT_STEP, changed_at=T0 + 5, stepped_at=T0 + 5)


def test_one_failed_probe_opens_it_again():
    breaker = Breaker(BreakerState.HALF_OPEN, weight=0, changed_at=T0, probes_granted=2, probes_passed=1)

    assert record(breaker, T0 + 3, HEALTHY, failed=True, probe=True) == opened_at(T0 + 3)


def test_a_probe_round_that_never_reports_is_replaced_after_a_cooldown():
    stalled = Breaker(BreakerState.HALF_OPEN, weight=0, changed_at=T0, probes_granted=CONFIG.probes, probes_passed=1)

    assert breaker_admit(stalled, CONFIG, T0 + CONFIG.cooldown_seconds - 1, 0.0) == (Admission.DENY, stalled)
    admission, breaker = breaker_admit(stalled, CONFIG, T0 + CONFIG.cooldown_seconds, 0.0)
    assert admission == Admission.PROBE
    assert (breaker.probes_granted, breaker.probes_passed, breaker.changed_at) == (
        1,
        0,
        T0 + CONFIG.cooldown_seconds,
    )


def test_recovery_takes_traffic_back_a_step_per_interval():
    breaker = Breaker(BreakerState.CLOSED, weight=WEIGHT_STEP, changed_at=T0, stepped_at=T0)
    weights = []
    for step in range(1, 12):
        breaker = record(breaker, T0 + step * CONFIG.step_seconds, HEALTHY)
        weights.append(breaker.weight)

    assert weights == [20, 30, 40, 50, 60, 70, 80, 90, 100, 100, 100]


def test_results_that_say_nothing_about_the_current_state_are_ignored():
    open_breaker = opened_at(T0)
    half_open = Breaker(BreakerState.HALF_OPEN, weight=0, changed_at=T0, probes_granted=1)

    # A send admitted before the breaker opened, reporting late, and a probe of a closed round.
    assert record(open_breaker, T0 + 1, DEAD, failed=True) == open_breaker
    assert record(half_open, T0 + 1, DEAD, failed=True) == half_open
    assert record(Breaker(), T0 + 1, HEALTHY, failed=True, probe=True) == Breaker()


def test_only_provider_faults_count_as_failures():
    assert counts_as_failure(RETRYABLE)
    assert counts_as_failure(SendResult.misconfigured("20003", "bad credentials"))
    assert not counts_as_failure(BAD_ADDRESS)
    assert not counts_as_failure(SendResult.delivered("SM1"))


def test_the_window_counts_only_its_own_buckets():
    now = T0 + 0.5
    bucket = int(now // CONFIG.step_seconds)
    buckets = {bucket: Window(1, 2), bucket - 9: Window(3, 4), bucket - 10: Window(100, 100)}

    assert window_sum(buckets, now, CONFIG) == Window(4, 6)
    assert window_stale(buckets, now, CONFIG) == [bucket - 10]


events = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=40),  # seconds since the previous event
        st.sampled_from(["admit", "record", "probe_result"]),
        st.booleans(),  # failed
        st.integers(min_value=0, max_value=40),  # successes in the window
        st.integers(min_value=0, max_value=40),  # failures in the window
        st.floats(min_value=0, max_value=0.999),  # draw
    ),
    max_size=60,
)


@given(events)
def test_any_history_keeps_the_breaker_consistent(history):
    breaker, now = Breaker(), T0
    for elapsed, kind, failed, successes, failures, draw in history:
        now += elapsed
        if kind == "admit":
            admission, after = breaker_admit(breaker, CONFIG, now, draw)
            assert (admission == Admission.PROBE) == (after != breaker)
            if breaker.state == BreakerState.CLOSED:
                assert admission in (Admission.SEND, Admission.SHED)
                assert after == breaker
            breaker = after
        else:
            window = Window(successes, failures)
            breaker = record(breaker, now, window, failed=failed, probe=kind == "probe_result")
        assert 0 <= breaker.weight <= FULL_WEIGHT
        assert breaker.weight % WEIGHT_STEP == 0
        assert (breaker.weight == 0) == (breaker.state != BreakerState.CLOSED)
        assert 0 <= breaker.probes_granted <= CONFIG.probes
        assert 0 <= breaker.probes_passed < CONFIG.probes


@given(st.lists(st.tuples(st.floats(min_value=0, max_value=40), st.integers(0, 1000), st.booleans()), max_size=60))
def test_a_provider_that_never_fails_more_than_the_threshold_allows_stays_fully_closed(history):
    breaker, now = Breaker(), T0
    for elapsed, successes, probe in history:
        now += elapsed
        failures = int(successes * (1 - CONFIG.threshold))  # never below the threshold
        breaker = record(breaker, now, Window(successes, failures), probe=probe)
        assert breaker == Breaker()


def test_the_dead_rate_is_below_the_threshold():
    # Otherwise no provider would ever shed gradually.
    assert DEAD_RATE < CONFIG.threshold


# --- the Redis store, shared by workers --------------------------------------------------------


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def workers(clock):
    """Two stores on two connections, as two worker processes would have, on one clock."""
    clients = [redis.Redis.from_url(settings.REDIS_URL) for _ in range(2)]
    yield [BreakerStore(client, CONFIG, clock=clock) for client in clients]
    for client in clients:
        client.close()


def test_store_round_trips_a_breaker(workers):
    breaker = Breaker(BreakerState.HALF_OPEN, weight=0, changed_at=T0 + 0.25, probes_granted=2, probes_passed=1)

    assert breaker_decode(breaker_encode(breaker)) == breaker
    assert workers[0].read("nobody") == Breaker()


def test_a_breaker_opened_by_one_worker_is_open_for_every_worker(workers):
    one, other = workers
    transitions = [one.record("twilio", failed=True, probe=False) for _ in range(CONFIG.min_volume)]

    opened = [t for t in transitions if t is not None]
    assert len(opened) == 1
    assert (opened[0].before.state, opened[0].after.state) == (BreakerState.CLOSED, BreakerState.OPEN)
    assert opened[0].window == Window(failures=CONFIG.min_volume)
    assert other.admit("twilio", 0.0).admission == Admission.DENY
    assert other.admit("sns", 0.0).admission == Admission.SEND


def test_concurrent_failures_open_the_breaker_exactly_once(workers):
    barrier = threading.Barrier(8)
    transitions = []

    def fail_five(store: BreakerStore) -> None:
        barrier.wait()
        for _ in range(5):
            transition = store.record("twilio", failed=True, probe=False)
            if transition is not None:
                transitions.append(transition)

    threads = [threading.Thread(target=fail_five, args=(workers[i % 2],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert [t.after.state for t in transitions] == [BreakerState.OPEN]
    assert workers[0].window("twilio") == Window(failures=40)


def test_concurrent_workers_get_exactly_the_configured_probes(workers, clock):
    for _ in range(CONFIG.min_volume):
        workers[0].record("twilio", failed=True, probe=False)
    clock.now += CONFIG.cooldown_seconds
    barrier = threading.Barrier(12)
    admissions: list[Admission] = []

    def admit(store: BreakerStore) -> None:
        barrier.wait()
        admissions.append(store.admit("twilio", 0.0).admission)

    threads = [threading.Thread(target=admit, args=(workers[i % 2],)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert Counter(admissions) == {Admission.PROBE: CONFIG.probes, Admission.DENY: 12 - CONFIG.probes}
    assert workers[1].read("twilio").state == BreakerState.HALF_OPEN


def test_passing_probes_close_it_and_forget_the_failures_that_opened_it(workers, clock):
    one, other = workers
    for _ in range(CONFIG.min_volume):
        one.record("twilio", failed=True, probe=False)
    clock.now += CONFIG.cooldown_seconds
    for _ in range(CONFIG.probes):
        assert other.admit("twilio", 0.0).admission == Admission.PROBE
    transitions = [one.record("twilio", failed=False, probe=True) for _ in range(CONFIG.probes)]

    assert transitions[-1].after == Breaker(
        BreakerState.CLOSED, weight=WEIGHT_STEP, changed_at=clock.now, stepped_at=clock.now
    )
    assert other.window("twilio") == Window()
    # A success right after does not find the old failures and reopen it.
    other.record("twilio", failed=False, probe=False)
    assert other.read("twilio").state == BreakerState.CLOSED


def test_results_older_than_the_window_stop_counting_and_leave_redis(workers, clock, redis_client):
    for _ in range(CONFIG.min_volume - 1):
        workers[0].record("twilio", failed=True, probe=False)
    clock.now += CONFIG.window_seconds + CONFIG.step_seconds

    workers[1].record("twilio", failed=True, probe=False)

    assert workers[0].read("twilio") == Breaker()
    assert workers[0].window("twilio") == Window(failures=1)
    assert len(redis_client.hgetall("clarion:breaker:twilio:window")) == 1


def test_bad_addresses_never_open_the_breaker(workers):
    for _ in range(3 * CONFIG.min_volume):
        workers[0].record("twilio", failed=counts_as_failure(BAD_ADDRESS), probe=False)

    assert workers[1].read("twilio") == Breaker()
    assert workers[1].window("twilio") == Window(successes=3 * CONFIG.min_volume)


def test_results_counted_together_open_it_once_as_one_by_one_would(workers):
    one, other = workers
    outcomes = [SendOutcome(failed=True, probe=False)] * CONFIG.min_volume

    transition = one.record_many("twilio", outcomes)

    assert (transition.before.state, transition.after.state) == (BreakerState.CLOSED, BreakerState.OPEN)
    assert transition.window == Window(failures=CONFIG.min_volume)
    assert other.read("twilio") == transition.after
    assert one.record_many("twilio", outcomes) is None, "results of sends admitted before it opened say nothing"
    assert other.window("twilio") == Window(failures=2 * CONFIG.min_volume)


def test_mixed_results_counted_together_are_counted_each(workers):
    outcomes = [SendOutcome(failed=i == 7, probe=False) for i in range(40)]  # 97.5%: above the threshold
    assert workers[0].record_many("twilio", outcomes) is None
    assert workers[1].window("twilio") == Window(successes=39, failures=1)


def test_probes_counted_together_close_it_in_one_change(workers, clock):
    for _ in range(CONFIG.min_volume):
        workers[0].record("twilio", failed=True, probe=False)
    clock.now += CONFIG.cooldown_seconds
    for _ in range(CONFIG.probes):
        assert workers[1].admit("twilio", 0.0).admission == Admission.PROBE

    transition = workers[0].record_many("twilio", [SendOutcome(failed=False, probe=True)] * CONFIG.probes)

    assert (transition.before.state, transition.after.state) == (BreakerState.HALF_OPEN, BreakerState.CLOSED)
    assert workers[1].window("twilio") == Window()


def test_admitting_on_a_breaker_already_read_asks_redis_nothing(workers, monkeypatch):
    current = workers[0].read("twilio")
    monkeypatch.setattr(workers[0]._client, "hgetall", lambda *args: pytest.fail("read again"))

    admitted = [workers[0].admit("twilio", 0.5, current) for _ in range(10)]

    assert {a.admission for a in admitted} == {Admission.SEND}


def test_an_admission_that_changes_a_breaker_read_earlier_is_decided_on_the_stored_one(workers, clock):
    for _ in range(CONFIG.min_volume):
        workers[1].record("twilio", failed=True, probe=False)
    clock.now += CONFIG.cooldown_seconds
    opened = workers[0].read("twilio")
    # Meanwhile another worker takes every probe of the round.
    for _ in range(CONFIG.probes):
        assert workers[1].admit("twilio", 0.0).admission == Admission.PROBE

    admitted = workers[0].admit("twilio", 0.0, opened)

    assert admitted.admission == Admission.DENY
    assert admitted.breaker == workers[1].read("twilio")


# --- delivery_send with breakers ----------------------------------------------------------------


class FakeProvider:
    def __init__(self, name: str, *results: SendResult) -> None:
        self.name = name
        self._results = deque(results or [SendResult.delivered(f"{name}-id")])
        self.sent: list[OutgoingMessage] = []

    def send(self, message: OutgoingMessage) -> SendResult:
        self.sent.append(message)
        return self._results.popleft() if len(self._results) > 1 else self._results[0]


@pytest.fixture
def breaker_settings(settings):
    settings.CLARION_BREAKER_MIN_VOLUME = 5
    settings.CLARION_BREAKER_COOLDOWN_SECONDS = 30
    settings.CLARION_BREAKER_PROBES = 2
    settings.CLARION_MAX_ATTEMPTS_PER_PROVIDER = 3
    return settings


@pytest.fixture
def use_chain(monkeypatch, breaker_settings):
    def install(*providers: FakeProvider) -> None:
        monkeypatch.setattr("delivery.sending.provider_chain", lambda channel: providers)

    return install


@pytest.fixture
def breaker_log(caplog):
    """What the breakers log. Clarion's loggers don't propagate to the root logger (they write
    JSON lines of their own), so caplog listens on this one directly."""
    logger = logging.getLogger("delivery.provider_health")
    logger.addHandler(caplog.handler)
    caplog.handler.setLevel(logging.WARNING)
    yield caplog
    logger.removeHandler(caplog.handler)


class FixedDraw:
    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


def put_breaker(provider: str, breaker: Breaker) -> None:
    delivery_redis().hset(f"clarion:breaker:{provider}", mapping=breaker_encode(breaker))


def sms_delivery() -> Delivery:
    return factories.DeliveryFactory(channel="sms", content={"to": "+15555550123", "body": "Your code is 1234"})


def test_an_open_breaker_sends_to_the_next_provider_and_the_attempt_says_why(db, use_chain):
    twilio, sns = FakeProvider("twilio"), FakeProvider("sns")
    use_chain(twilio, sns)
    put_breaker("twilio", opened_at(time.time()))
    delivery = sms_delivery()

    step = delivery_send(delivery.pk)

    delivery.refresh_from_db()
    assert step.next_step == NextStep.NONE
    assert (delivery.status, delivery.provider, delivery.provider_index) == (Delivery.Status.SENT, "sns", 1)
    assert (twilio.sent, len(sns.sent)) == ([], 1)
    assert list(delivery.attempts.values_list("provider", "note")) == [("sns", "passed over: twilio breaker open")]


def test_every_breaker_open_schedules_the_delivery_without_an_attempt(db, use_chain):
    twilio, sns = FakeProvider("twilio"), FakeProvider("sns")
    use_chain(twilio, sns)
    opened = time.time() - 10
    put_breaker("twilio", opened_at(opened))
    put_breaker("sns", opened_at(opened))
    delivery = sms_delivery()

    step = delivery_send(delivery.pk)

    delivery.refresh_from_db()
    assert step.next_step == NextStep.RETRY_LATER
    assert delivery.status == Delivery.Status.SCHEDULED
    assert delivery.scheduled_for == step.retry_at
    # Not before the cooldown ends, and not long after (jitter of up to a quarter of it).
    cooldown_end = opened + settings.CLARION_BREAKER_COOLDOWN_SECONDS
    assert cooldown_end <= step.retry_at.timestamp() <= cooldown_end + settings.CLARION_BREAKER_COOLDOWN_SECONDS / 4
    assert delivery.reason == "waiting: twilio breaker open; sns breaker open"
    assert (delivery.provider_attempts, delivery.attempts.count()) == (0, 0)
    assert twilio.sent == sns.sent == []


def test_provider_failures_open_the_breaker_log_it_and_show_it_in_the_admin(db, use_chain, breaker_log):
    twilio, sns = FakeProvider("twilio", RETRYABLE), FakeProvider("sns")
    use_chain(twilio, sns)
    deliveries = [sms_delivery() for _ in range(8)]

    steps = [delivery_send(d.pk).next_step for d in deliveries]

    # Five failures (the minimum volume) open it; the rest go straight to SNS.
    assert steps == [NextStep.RETRY_LATER] * 5 + [NextStep.NONE] * 3
    assert (len(twilio.sent), len(sns.sent)) == (5, 3)
    assert breaker_store().read("twilio").state == BreakerState.OPEN
    health = ProviderHealth.objects.get(provider="twilio")
    assert (health.state, health.weight, health.failures, health.successes) == ("open", 0, 5, 0)
    assert "0% of 5 sends succeeded" in health.detail
    assert "circuit breaker of twilio: closed → open" in breaker_log.text


def test_bad_addresses_do_not_open_the_breaker(db, use_chain):
    twilio, sns = FakeProvider("twilio", BAD_ADDRESS), FakeProvider("sns")
    use_chain(twilio, sns)

    for _ in range(10):
        delivery_send(sms_delivery().pk)

    assert (len(twilio.sent), sns.sent) == (10, [])
    assert breaker_store().read("twilio") == Breaker()
    assert Delivery.objects.filter(status=Delivery.Status.FAILED).count() == 10


def test_a_probe_that_succeeds_closes_the_breaker(db, use_chain, breaker_settings):
    breaker_settings.CLARION_BREAKER_PROBES = 1
    twilio, sns = FakeProvider("twilio"), FakeProvider("sns")
    use_chain(twilio, sns)
    put_breaker("twilio", opened_at(time.time() - 31))
    delivery = sms_delivery()

    delivery_send(delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.provider, len(twilio.sent)) == ("twilio", 1)
    breaker = breaker_store().read("twilio")
    assert (breaker.state, breaker.weight) == (BreakerState.CLOSED, WEIGHT_STEP)
    assert ProviderHealth.objects.get(provider="twilio").state == ProviderHealth.State.CLOSED


def test_a_shedding_provider_passes_part_of_its_traffic_on(db, breaker_settings):
    chain = (FakeProvider("twilio"), FakeProvider("sns"))
    put_breaker("twilio", replace(Breaker(), weight=30, stepped_at=time.time()))
    rng = random.Random(7)

    choices = Counter(provider_choose(chain, 0, rng).index for _ in range(300))

    assert 60 <= choices[0] <= 120  # about 30%
    assert choices[0] + choices[1] == 300
    shed = provider_choose(chain, 0, FixedDraw(0.5))
    assert shed.index == 1 and shed.note == "twilio shedding load (weight 30%)"


def test_a_round_of_sends_reads_each_breaker_once(db, breaker_settings, monkeypatch):
    chain = (FakeProvider("twilio"), FakeProvider("sns"))
    put_breaker("twilio", replace(Breaker(), weight=30, stepped_at=time.time()))
    reads = Counter()
    store_read = BreakerStore.read
    monkeypatch.setattr(BreakerStore, "read", lambda store, name: reads.update([name]) or store_read(store, name))
    breakers_read: dict[str, Breaker] = {}
    rng = random.Random(7)

    choices = Counter(provider_choose(chain, 0, rng, breakers_read=breakers_read).index for _ in range(300))

    assert reads == {"twilio": 1, "sns": 1}
    assert 60 <= choices[0] <= 120, "each send still draws on its own"
    assert breakers_read["twilio"].weight == 30


def test_a_shedding_provider_keeps_its_traffic_when_no_other_takes_it(db, breaker_settings):
    chain = (FakeProvider("twilio"), FakeProvider("sns"))
    put_breaker("twilio", replace(Breaker(), weight=10, stepped_at=time.time()))
    put_breaker("sns", opened_at(time.time()))
    rng = random.Random(7)

    assert {provider_choose(chain, 0, rng).index for _ in range(50)} == {0}


def test_a_delivery_already_failed_over_never_goes_back_up_the_chain(db, use_chain):
    twilio, sns = FakeProvider("twilio"), FakeProvider("sns")
    use_chain(twilio, sns)
    put_breaker("sns", opened_at(time.time()))
    delivery = factories.DeliveryFactory(channel="sms", provider_index=1, content={"to": "+15555550123", "body": "x"})

    assert delivery_send(delivery.pk).next_step == NextStep.RETRY_LATER
    assert twilio.sent == sns.sent == []


def test_without_redis_breakers_count_as_closed_and_messages_still_go(db, use_chain, monkeypatch, breaker_log):
    unreachable = redis_for_sending(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    monkeypatch.setattr("delivery.provider_health.delivery_redis", lambda: unreachable)
    twilio, sns = FakeProvider("twilio", RETRYABLE, SendResult.delivered("SM1")), FakeProvider("sns")
    use_chain(twilio, sns)
    delivery = sms_delivery()

    first = delivery_send(delivery.pk)
    Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.QUEUED, scheduled_for=timezone.now())
    second = delivery_send(delivery.pk)

    assert (first.next_step, second.next_step) == (NextStep.RETRY_LATER, NextStep.NONE)
    assert list(DeliveryAttempt.objects.values_list("provider", "outcome")) == [
        ("twilio", "retryable"),
        ("twilio", "delivered"),
    ]
    assert "Redis unavailable, treating the twilio breaker as closed" in breaker_log.text
    assert "Redis unavailable, the twilio breaker did not count a result" in breaker_log.text
