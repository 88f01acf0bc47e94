"""Provider health as `delivery_send` uses it: which provider of the chain takes a send
(circuit breakers), when the send may go (rate limits), and what its result says about the
provider. The state lives in Redis, shared by every worker (DESIGN.md §7).

Redis being unreachable must not stop messages: breakers then count as closed and rate
limits as absent, and each such fallback is logged.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

from delivery.breaker import (
    Admission,
    Breaker,
    BreakerConfig,
    BreakerState,
    SendOutcome,
    breaker_admits_at,
    counts_as_failure,
)
from delivery.breaker_store import BreakerStore, Transition
from delivery.models import ProviderHealth
from delivery.providers.base import Provider, SendResult
from delivery.rate_limit import TokenBucket

logger = logging.getLogger(__name__)


def redis_for_sending(url: str) -> redis.Redis:
    """A client for calls a send waits on: short timeouts and a single immediate retry (for a
    connection Redis dropped while idle), not redis-py's default of three with backoff, which
    would hold every send for seconds while Redis is down."""
    return redis.Redis.from_url(
        url, socket_connect_timeout=1, socket_timeout=1, health_check_interval=30, retry=Retry(NoBackoff(), 1)
    )


def delivery_redis() -> redis.Redis:
    """One client, with its connection pool, per process (and per REDIS_URL)."""
    return _redis_for_sending_cached(settings.REDIS_URL)


_redis_for_sending_cached = cache(redis_for_sending)


@cache
def _token_bucket() -> TokenBucket:
    return TokenBucket(delivery_redis())


def breaker_config() -> BreakerConfig:
    return BreakerConfig(
        threshold=settings.CLARION_BREAKER_THRESHOLD,
        window_seconds=settings.CLARION_BREAKER_WINDOW_SECONDS,
        min_volume=settings.CLARION_BREAKER_MIN_VOLUME,
        cooldown_seconds=settings.CLARION_BREAKER_COOLDOWN_SECONDS,
        probes=settings.CLARION_BREAKER_PROBES,
    )


def breaker_store() -> BreakerStore:
    return BreakerStore(delivery_redis(), breaker_config())


@dataclass(frozen=True)
class ProviderChoice:
    index: int | None  # in the chain; None when every provider from the start on is open
    probe: bool = False  # a half-open breaker's probe: its result is reported as one
    note: str = ""  # why providers before `index` were passed over
    retry_at: datetime | None = None  # with index None: about when an open breaker admits again


TransitionHandler = Callable[[Transition], None]


def provider_choose(
    chain: Sequence[Provider],
    start: int,
    rng: random.Random | None = None,
    on_transition: TransitionHandler | None = None,
    breakers_read: dict[str, Breaker] | None = None,
) -> ProviderChoice:
    """The first provider from `start` on whose breaker takes the send. A shedding provider
    keeps the send only when no later provider takes it.

    A breaker's change goes to `on_transition`, by default `provider_health_record`; a thread
    that must not touch the database (the send pool's) collects them for the task's thread.
    `breakers_read` holds the breakers a round of sends has read so far, for the next send of
    the round to decide on without reading them again; it is kept up to date here."""
    record_transition = on_transition or provider_health_record
    store = breaker_store()
    draw = (rng or random).random
    passed: list[str] = []
    shedding: tuple[int, str] | None = None
    admits_at: list[float] = []
    for index in range(start, len(chain)):
        name = chain[index].name
        try:
            admitted = store.admit(name, draw(), None if breakers_read is None else breakers_read.get(name))
        except redis.RedisError as error:
            logger.warning(
                "Redis unavailable, treating the %s breaker as closed: %s", name, error, extra={"provider": name}
            )
            return ProviderChoice(index, note="; ".join(passed))
        if breakers_read is not None:
            breakers_read[name] = admitted.breaker
        if admitted.transition is not None:
            record_transition(admitted.transition)
        if admitted.admission in (Admission.SEND, Admission.PROBE):
            return ProviderChoice(index, probe=admitted.admission == Admission.PROBE, note="; ".join(passed))
        if admitted.admission == Admission.SHED:
            if shedding is None:
                shedding = (index, "; ".join(passed))
            passed.append(f"{name} shedding load (weight {admitted.breaker.weight}%)")
        else:
            passed.append(f"{name} breaker {admitted.breaker.state}")
            admits_at.append(breaker_admits_at(admitted.breaker, store.config))
    if shedding is not None:
        return ProviderChoice(shedding[0], note=shedding[1])
    # Jitter, so the sends held back by a breaker don't all return to it at once.
    retry_at = max(time.time(), min(admits_at)) + (rng or random).uniform(0, store.config.cooldown_seconds / 4)
    return ProviderChoice(None, note="; ".join(passed), retry_at=datetime.fromtimestamp(retry_at, tz=UTC))


def provider_results_record(
    provider: str, results: Sequence[tuple[SendResult, bool]], on_transition: TransitionHandler | None = None
) -> None:
    """Count results that came back together, each with whether it was a probe, in one round
    trip; the breaker moves once for them all, and that change goes to `on_transition`."""
    outcomes = [SendOutcome(failed=counts_as_failure(result), probe=probe) for result, probe in results]
    try:
        transition = breaker_store().record_many(provider, outcomes)
    except redis.RedisError as error:
        logger.warning(
            "Redis unavailable, the %s breaker did not count %s: %s",
            provider,
            "a result" if len(outcomes) == 1 else f"{len(outcomes)} results",
            error,
            extra={"provider": provider},
        )
        return
    if transition is not None:
        (on_transition or provider_health_record)(transition)


def provider_slot_wait(provider: str) -> float:
    """Wait for a slot under the provider's rate limit (CLARION_RATE_LIMITS). Returns 0 once
    the send may go, or, when the slot is further off than the bound, the seconds until one
    would be free: nothing is reserved and the caller sends later instead."""
    rate = settings.CLARION_RATE_LIMITS.get(provider)
    if not rate:
        return 0.0
    try:
        grant = _token_bucket().acquire(provider, rate, settings.CLARION_RATE_LIMIT_MAX_WAIT_SECONDS)
    except redis.RedisError as error:
        logger.warning(
            "Redis unavailable, sending to %s without its rate limit: %s", provider, error, extra={"provider": provider}
        )
        return 0.0
    if not grant.granted:
        return grant.wait_seconds
    if grant.wait_seconds > 0:
        time.sleep(grant.wait_seconds)
    return 0.0


def _describe(transition: Transition) -> str:
    before, after, window = transition.before, transition.after, transition.window
    rate = f"{window.success_rate:.0%} of {window.total} sends succeeded in the window"
    if after.state == BreakerState.OPEN:
        return "a probe failed" if before.state == BreakerState.HALF_OPEN else rate
    if after.state == BreakerState.HALF_OPEN:
        return "cooldown over: probing"
    if before.state != BreakerState.CLOSED:
        return "probes succeeded: taking traffic back gradually"
    if after.weight < before.weight:
        return f"shedding load: {rate}"
    return "recovering"


def provider_health_record(transition: Transition) -> None:
    """Log a breaker's change and keep its snapshot for the admin. Changes of one breaker are
    serialized in Redis, but their snapshots are written by different workers: the newest wins."""
    before, after = transition.before, transition.after
    if (before.state, before.weight) == (after.state, after.weight):
        return  # another probe handed out: nothing an operator needs to see
    detail = _describe(transition)
    if after.state != before.state:
        logger.warning(
            "circuit breaker of %s: %s → %s (%s)",
            transition.provider,
            before.state,
            after.state,
            detail,
            extra={"provider": transition.provider},
        )
    else:
        logger.info(
            "circuit breaker of %s: weight %d%% → %d%% (%s)",
            transition.provider,
            before.weight,
            after.weight,
            detail,
            extra={"provider": transition.provider},
        )
    at = datetime.fromtimestamp(transition.at, tz=UTC)
    values = {
        "state": after.state.value,
        "weight": after.weight,
        "successes": transition.window.successes,
        "failures": transition.window.failures,
        "detail": detail[:200],
        "changed_at": at,
    }
    updated = ProviderHealth.objects.filter(provider=transition.provider, changed_at__lte=at).update(**values)
    if not updated:
        ProviderHealth.objects.get_or_create(provider=transition.provider, defaults=values)
