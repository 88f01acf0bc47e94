"""Each provider's circuit breaker in Redis, shared by every worker on every machine.

Two keys per provider: a hash with the `Breaker` (`clarion:breaker:{name}`) and a hash of
result counts per time bucket of the rolling window (`…:{name}:window`, fields
`{bucket}:ok` and `{bucket}:fail`). A result is counted and read back in one MULTI. The
state machine is `delivery.breaker`'s pure functions; a change they decide is written under
WATCH, re-deciding on the fresh state when another worker changed it first, so two workers
never both open a breaker or hand out more probes than configured. Reads that change nothing
(the common case: a closed breaker) cost one round trip and no write, and a round of sends
passes in the breaker it read (`admit`'s `current`) and counts its results together
(`record_many`): one round trip per provider and round, not two per send.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TypeVar

import redis

from delivery.breaker import (
    Admission,
    Breaker,
    BreakerConfig,
    BreakerState,
    SendOutcome,
    Window,
    breaker_admit,
    breaker_record_all,
    window_bucket,
    window_stale,
    window_sum,
)

KEY_PREFIX = "clarion:breaker"
# Re-decisions after losing a WATCH race; each loss means another worker moved the breaker.
MAX_CONFLICTS = 10

T = TypeVar("T")


@dataclass(frozen=True)
class Transition:
    """A change of a breaker's state or weight, for the log and the admin."""

    provider: str
    before: Breaker
    after: Breaker
    window: Window
    at: float


@dataclass(frozen=True)
class Admitted:
    admission: Admission
    breaker: Breaker  # after the admission
    transition: Transition | None = None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def breaker_decode(raw: Mapping[bytes | str, bytes | str]) -> Breaker:
    values = {_text(key): _text(value) for key, value in raw.items()}
    default = Breaker()
    return Breaker(
        state=BreakerState(values.get("state", default.state)),
        weight=int(values.get("weight", default.weight)),
        changed_at=float(values.get("changed_at", default.changed_at)),
        stepped_at=float(values.get("stepped_at", default.stepped_at)),
        probes_granted=int(values.get("probes_granted", default.probes_granted)),
        probes_passed=int(values.get("probes_passed", default.probes_passed)),
    )


def breaker_encode(breaker: Breaker) -> dict[str, str]:
    return {field.name: str(getattr(breaker, field.name)) for field in fields(breaker)}


def window_decode(raw: Mapping[bytes | str, bytes | str]) -> dict[int, Window]:
    buckets: dict[int, Window] = {}
    for key, value in raw.items():
        bucket, _, kind = _text(key).partition(":")
        counts = Window(successes=int(value)) if kind == "ok" else Window(failures=int(value))
        buckets[int(bucket)] = buckets.get(int(bucket), Window()) + counts
    return buckets


class BreakerStore:
    def __init__(
        self,
        client: redis.Redis,
        config: BreakerConfig,
        clock: Callable[[], float] = time.time,
        prefix: str = KEY_PREFIX,
    ) -> None:
        self._client = client
        self.config = config
        self._clock = clock
        self._prefix = prefix

    def _key(self, provider: str) -> str:
        return f"{self._prefix}:{provider}"

    def _window_key(self, provider: str) -> str:
        return f"{self._prefix}:{provider}:window"

    def read(self, provider: str) -> Breaker:
        return breaker_decode(self._client.hgetall(self._key(provider)))

    def window(self, provider: str) -> Window:
        return window_sum(window_decode(self._client.hgetall(self._window_key(provider))), self._clock(), self.config)

    def admit(self, provider: str, draw: float, current: Breaker | None = None) -> Admitted:
        """Whether a send may go to `provider` now (see `breaker_admit`). `current` is the
        breaker as this round read it; without it, it is read. A change is decided again on
        the stored breaker, whichever was passed."""
        breaker = self.read(provider) if current is None else current
        admission, after = breaker_admit(breaker, self.config, self._clock(), draw)
        if after == breaker:
            return Admitted(admission, breaker)
        answer, after, transition = self._change(
            provider, lambda current, now: breaker_admit(current, self.config, now, draw), Window(), Admission.DENY
        )
        return Admitted(answer, after, transition)

    def record(self, provider: str, *, failed: bool, probe: bool) -> Transition | None:
        """Count a send's result and move the breaker if the result calls for it."""
        return self.record_many(provider, [SendOutcome(failed=failed, probe=probe)])

    def record_many(self, provider: str, outcomes: Sequence[SendOutcome]) -> Transition | None:
        """Count results that came back together, in order, and move the breaker once if they
        call for it (`breaker_record_all`)."""
        now = self._clock()
        window_key = self._window_key(provider)
        counted_in = window_bucket(now, self.config)
        failures = sum(outcome.failed for outcome in outcomes)
        with self._client.pipeline(transaction=True) as pipe:
            for kind, count in (("ok", len(outcomes) - failures), ("fail", failures)):
                if count:
                    pipe.hincrby(window_key, f"{counted_in}:{kind}", count)
            # An idle provider's counts go away by themselves.
            pipe.expire(window_key, int(self.config.window_seconds * 2) + 1)
            pipe.hgetall(window_key)
            pipe.hgetall(self._key(provider))
            *_, raw_window, raw_breaker = pipe.execute()
        buckets = window_decode(raw_window)
        stale = window_stale(buckets, now, self.config)
        if stale:
            self._client.hdel(window_key, *(f"{bucket}:{kind}" for bucket in stale for kind in ("ok", "fail")))
        window = window_sum(buckets, now, self.config)
        breaker = breaker_decode(raw_breaker)
        if breaker_record_all(breaker, self.config, now, outcomes, window) == breaker:
            return None

        def decide(current: Breaker, at: float) -> tuple[None, Breaker]:
            return None, breaker_record_all(current, self.config, at, outcomes, window)

        return self._change(provider, decide, window, None)[2]

    def _change(
        self,
        provider: str,
        decide: Callable[[Breaker, float], tuple[T, Breaker]],
        window: Window,
        contended: T,
    ) -> tuple[T, Breaker, Transition | None]:
        """Apply `decide` to the current breaker atomically (optimistic, under WATCH).
        `contended` is the answer when other workers keep winning the race."""
        key = self._key(provider)
        with self._client.pipeline(transaction=True) as pipe:
            for _ in range(MAX_CONFLICTS):
                try:
                    pipe.watch(key)
                    before = breaker_decode(pipe.hgetall(key))
                    now = self._clock()
                    answer, after = decide(before, now)
                    if after == before:
                        pipe.unwatch()
                        return answer, before, None
                    pipe.multi()
                    pipe.hset(key, mapping=breaker_encode(after))
                    if after.state == BreakerState.CLOSED and before.state != BreakerState.CLOSED:
                        # Recovered: the failures that opened it must not close it again.
                        pipe.delete(self._window_key(provider))
                    pipe.execute()
                except redis.WatchError:
                    continue
                return answer, after, Transition(provider, before, after, window, now)
        return contended, before, None
