"""Takes rate-limit slots as a worker does, in a thread or in another process (importable
without Django, for `multiprocessing`'s spawn)."""

from __future__ import annotations

import time

import redis

from delivery.rate_limit import TokenBucket


def take_slots(redis_url: str, provider: str, rate: float, count: int) -> list[float]:
    """Reserve `count` slots one after another, sleeping until each. Returns each slot's time
    (Redis' clock)."""
    client = redis.Redis.from_url(redis_url)
    bucket = TokenBucket(client)
    slots = []
    try:
        for _ in range(count):
            grant = bucket.acquire(provider, rate, max_wait=30)
            if not grant.granted:
                raise AssertionError(f"no slot within 30 s: {grant}")
            time.sleep(grant.wait_seconds)
            slots.append(grant.slot_at)
    finally:
        client.close()
    return slots
