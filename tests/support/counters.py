"""Test helpers for Clarion's Redis counters and dedup claims."""

from __future__ import annotations

import redis

from delivery.counters import DEDUP_PREFIX, SENT_PREFIX


def counters_clear(client: redis.Redis) -> None:
    """Delete every send counter and dedup claim, and nothing else of the shared Redis (ids
    are reused between tests, so a counter left behind would leak into the next test)."""
    for prefix in (SENT_PREFIX, DEDUP_PREFIX):
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
