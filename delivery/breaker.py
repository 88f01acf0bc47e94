"""A circuit breaker per provider: the state machine, as pure functions over plain data.

`breaker_store` keeps each provider's `Breaker` in Redis, shared by every worker, and applies
these functions to it atomically; nothing here knows Redis, the database or the clock.

- **closed**: the provider takes a `weight` (percent) of the traffic that reaches it in a
  chain, 100 while it is healthy. When its success rate over the rolling window falls below
  the threshold (with at least the minimum volume), it sheds one step (10 points) per step
  interval (a tenth of the window), and the shed share goes to the next provider in the
  chain. GOV.UK Notify learnt that moving all traffic at once overloads the other provider
  (DESIGN.md §6). At zero weight it opens; it opens at once when fewer than half its sends
  succeed, because a provider that fails most sends is down, and shedding slowly would only
  delay messages. Where no other provider takes the traffic, a shedding provider keeps it
  (`Admission.SHED`: the caller decides).
- **open**: no sends until the cooldown has passed.
- **half-open**: a few probe sends. All succeed: closed, at one step of weight, which climbs
  a step per interval while no trouble shows (recovery is gradual too). One fails: open
  again. A round whose probes never all report (a worker died mid-send) is replaced by a
  new one after another cooldown, so a lost probe cannot hold the breaker half-open.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from delivery.providers.base import Outcome, SendResult

FULL_WEIGHT = 100
WEIGHT_STEP = 10
WINDOW_BUCKETS = 10  # the rolling window is counted in this many time buckets; a step lasts one
DEAD_RATE = 0.5  # below this success rate a provider is down: open at once


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Admission(enum.StrEnum):
    SEND = "send"  # closed: send
    PROBE = "probe"  # half-open: send as a probe, and report its result as one
    SHED = "shed"  # closed but shedding: send elsewhere if another provider takes it
    DENY = "deny"  # open, or half-open with its probes all out: do not send


@dataclass(frozen=True)
class BreakerConfig:
    threshold: float = 0.95  # the lowest healthy success rate
    window_seconds: float = 60.0
    min_volume: int = 20  # fewer results in the window than this say nothing
    cooldown_seconds: float = 30.0
    probes: int = 3

    @property
    def step_seconds(self) -> float:
        return self.window_seconds / WINDOW_BUCKETS


@dataclass(frozen=True)
class Breaker:
    state: BreakerState = BreakerState.CLOSED
    weight: int = FULL_WEIGHT
    changed_at: float = 0.0  # when the state last changed (epoch seconds)
    stepped_at: float = 0.0  # when the weight last moved
    probes_granted: int = 0
    probes_passed: int = 0


@dataclass(frozen=True)
class Window:
    """Results counted over the rolling window."""

    successes: int = 0
    failures: int = 0

    @property
    def total(self) -> int:
        return self.successes + self.failures

    @property
    def success_rate(self) -> float:
        return self.successes / self.total if self.total else 1.0

    def __add__(self, other: Window) -> Window:
        return Window(self.successes + other.successes, self.failures + other.failures)


def counts_as_failure(result: SendResult) -> bool:
    """Whether a send's result counts against the provider. A bad address is the message's
    fault: the provider answered properly, so it counts as a success (a probe that meets
    one has still reached a working provider)."""
    if result.outcome == Outcome.RETRYABLE:
        return True
    return result.outcome == Outcome.PERMANENT and result.provider_fault


def window_bucket(now: float, config: BreakerConfig) -> int:
    return int(now // config.step_seconds)


def window_sum(buckets: Mapping[int, Window], now: float, config: BreakerConfig) -> Window:
    """The results of the buckets inside the window that ends now."""
    first = window_bucket(now, config) - WINDOW_BUCKETS + 1
    return sum((counts for bucket, counts in buckets.items() if bucket >= first), Window())


def window_stale(buckets: Iterable[int], now: float, config: BreakerConfig) -> list[int]:
    """Buckets that have left the window, for the store to drop."""
    first = window_bucket(now, config) - WINDOW_BUCKETS + 1
    return [bucket for bucket in buckets if bucket < first]


def _opened(now: float) -> Breaker:
    return Breaker(BreakerState.OPEN, weight=0, changed_at=now, stepped_at=now)


def _probing(now: float) -> Breaker:
    return Breaker(BreakerState.HALF_OPEN, weight=0, changed_at=now, stepped_at=now, probes_granted=1)


def breaker_admit(breaker: Breaker, config: BreakerConfig, now: float, draw: float) -> tuple[Admission, Breaker]:
    """May a send go to this provider now? `draw` is uniform in [0, 1): it picks which sends
    a shedding provider keeps. Returns the admission and the breaker after it."""
    if breaker.state == BreakerState.CLOSED:
        return (Admission.SEND if draw * FULL_WEIGHT < breaker.weight else Admission.SHED), breaker
    cooled_down = now - breaker.changed_at >= config.cooldown_seconds
    if breaker.state == BreakerState.OPEN:
        return (Admission.PROBE, _probing(now)) if cooled_down else (Admission.DENY, breaker)
    if breaker.probes_granted < config.probes:
        return Admission.PROBE, replace(breaker, probes_granted=breaker.probes_granted + 1)
    if cooled_down:
        return Admission.PROBE, _probing(now)
    return Admission.DENY, breaker


def breaker_record(
    breaker: Breaker, config: BreakerConfig, now: float, *, failed: bool, probe: bool, window: Window
) -> Breaker:
    """The breaker after a send's result; `window` already counts that result."""
    if probe:
        # A probe outliving its round still says whether the provider works now.
        if breaker.state != BreakerState.HALF_OPEN:
            return breaker
        if failed:
            return _opened(now)
        passed = breaker.probes_passed + 1
        if passed >= config.probes:
            return Breaker(BreakerState.CLOSED, weight=WEIGHT_STEP, changed_at=now, stepped_at=now)
        return replace(breaker, probes_passed=passed)
    # A send admitted before the breaker opened tells nothing about recovery.
    if breaker.state != BreakerState.CLOSED:
        return breaker
    step_due = now - breaker.stepped_at >= config.step_seconds
    if window.total >= config.min_volume and window.success_rate < config.threshold:
        if window.success_rate < DEAD_RATE or breaker.weight <= WEIGHT_STEP:
            return _opened(now)
        return replace(breaker, weight=breaker.weight - WEIGHT_STEP, stepped_at=now) if step_due else breaker
    if breaker.weight < FULL_WEIGHT and step_due:
        return replace(breaker, weight=min(FULL_WEIGHT, breaker.weight + WEIGHT_STEP), stepped_at=now)
    return breaker


@dataclass(frozen=True)
class SendOutcome:
    """One send's result as a breaker counts it."""

    failed: bool
    probe: bool


def breaker_record_all(
    breaker: Breaker, config: BreakerConfig, now: float, outcomes: Sequence[SendOutcome], window: Window
) -> Breaker:
    """`breaker_record` for results that came back together, in order, each judged on the
    window that counts them all: they have all happened by now."""
    for outcome in outcomes:
        breaker = breaker_record(breaker, config, now, failed=outcome.failed, probe=outcome.probe, window=window)
    return breaker


def breaker_admits_at(breaker: Breaker, config: BreakerConfig) -> float:
    """The earliest time an open (or fully probing) breaker may admit a send again."""
    if breaker.state == BreakerState.CLOSED:
        return breaker.changed_at
    return breaker.changed_at + config.cooldown_seconds
