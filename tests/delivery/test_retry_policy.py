"""The retry backoff: exponential, bounded, jittered, and never before a provider's Retry-After."""

from __future__ import annotations

import itertools
import random
import statistics

import pytest

from delivery.retry_policy import backoff_seconds

BASE = 2.0
MAX = 300.0


def delays(attempt: int, samples: int = 200, seed: int = 7, **kwargs: float | None) -> list[float]:
    rng = random.Random(seed)
    return [backoff_seconds(attempt, BASE, MAX, rng=rng, **kwargs) for _ in range(samples)]


@pytest.mark.parametrize("attempt", range(1, 12))
def test_delay_lies_between_half_and_all_of_the_exponential_step(attempt):
    ceiling = min(MAX, BASE * 2 ** (attempt - 1))

    values = delays(attempt)

    assert all(ceiling / 2 <= v <= ceiling for v in values)


def test_delay_grows_exponentially_until_the_cap():
    means = [statistics.mean(delays(attempt)) for attempt in range(1, 8)]

    for earlier, later in itertools.pairwise(means):
        assert later == pytest.approx(2 * earlier, rel=0.15)


def test_delay_never_exceeds_the_cap_however_many_attempts():
    for attempt in (9, 10, 20, 64, 1000):
        values = delays(attempt, samples=50)
        assert max(values) <= MAX
        assert min(values) >= MAX / 2


def test_attempt_zero_or_below_is_treated_as_the_first():
    assert all(BASE / 2 <= v <= BASE for v in delays(0) + delays(-5))


def test_retry_after_is_a_floor():
    values = delays(1, retry_after_seconds=30.0)

    assert all(v == 30.0 for v in values)


def test_retry_after_below_the_backoff_changes_nothing():
    assert delays(6, retry_after_seconds=1.0) == delays(6)


def test_retry_after_is_itself_capped():
    assert all(v == MAX for v in delays(1, retry_after_seconds=10_000.0))


def test_jitter_spreads_a_burst_of_retries():
    values = delays(5, samples=500)
    ceiling = BASE * 2**4

    assert len({round(v, 6) for v in values}) > 450
    assert statistics.pstdev(values) > ceiling / 10
    # Both halves of the jitter range are used, not just one end.
    assert min(values) < ceiling * 0.6
    assert max(values) > ceiling * 0.9


def test_same_seed_gives_the_same_schedule():
    assert delays(4, seed=42) == delays(4, seed=42)
    assert delays(4, seed=42) != delays(4, seed=43)


def test_module_random_is_used_without_an_rng():
    state = random.getstate()
    try:
        random.seed(3)
        first = backoff_seconds(3, BASE, MAX)
        random.seed(3)
        second = backoff_seconds(3, BASE, MAX)
    finally:
        random.setstate(state)

    assert first == second
    assert BASE * 2 <= first <= BASE * 4
