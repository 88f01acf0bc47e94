"""How long to wait before retrying a provider: exponential backoff with jitter."""

from __future__ import annotations

import random


def backoff_seconds(
    attempt: int,
    base_seconds: float,
    max_seconds: float,
    retry_after_seconds: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Delay before retry number `attempt` (1 for the first retry).

    Jitter (half to all of the exponential step) spreads the retries of a failed burst so
    they don't hit the provider together; a provider's own Retry-After is a floor.
    """
    ceiling = min(max_seconds, base_seconds * (2 ** max(attempt - 1, 0)))
    delay = (rng or random).uniform(ceiling / 2, ceiling)
    if retry_after_seconds is not None:
        delay = max(delay, min(retry_after_seconds, max_seconds))
    return delay
