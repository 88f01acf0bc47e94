"""A global rate limit per provider: a token bucket in Redis, shared by every worker.

The bucket holds one token, refilled a little slower than the provider's rate (`HEADROOM`),
so sends are spaced just over 1/rate apart across all workers and no one-second span holds
more than `rate` of them: a burst cannot exceed the provider's quota. A caller that finds
no token may reserve the next free slot (the bucket goes into debt, so callers queue up in
order) and sleep until it, provided the slot is within `max_wait`; otherwise nothing is
reserved and the caller sends later.
Time is Redis' own clock, the one every worker shares (tests may pass their own).

The API's limit per key (notifications/api_rate_limit.py) is the same bucket with a
capacity of its burst, no headroom and no wait: a plain token bucket.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

KEY_PREFIX = "clarion:ratelimit"
# The provider counts arrivals, not our slots, and the way there can bunch sends that left
# evenly spaced. Spacing them 10% wider than the rate leaves about 100 ms a second for that
# jitter before the provider could count more than `rate` in one second.
HEADROOM = 0.1

# KEYS[1]: the bucket. ARGV: rate (tokens/s), capacity, the longest wait to reserve (s),
# and optionally the time (s) instead of Redis' clock.
# Returns {granted (0/1), seconds until the slot, the time}; numbers as strings, since
# Redis truncates Lua numbers to integers.
RATE_LIMIT_LUA = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
if not now then
  local clock = redis.call('TIME')
  now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
end
local stored = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(stored[1]) or capacity
local at = tonumber(stored[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens < 1 then
  wait = (1 - tokens) / rate
end
if wait > max_wait then
  return {0, string.format('%.6f', wait), string.format('%.6f', now)}
end
tokens = tokens - 1
redis.call('HSET', KEYS[1], 'tokens', string.format('%.9f', tokens), 'at', string.format('%.6f', now))
redis.call('EXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate) + 1)
return {1, string.format('%.6f', wait), string.format('%.6f', now)}
"""


@dataclass(frozen=True)
class Grant:
    granted: bool  # a slot is reserved: send after `wait_seconds`
    wait_seconds: float  # until the slot, or (not granted) until a token would be free
    slot_at: float  # Redis' time of the slot


class TokenBucket:
    def __init__(
        self, client: redis.Redis, prefix: str = KEY_PREFIX, capacity: float = 1.0, headroom: float = HEADROOM
    ) -> None:
        self._script = client.register_script(RATE_LIMIT_LUA)
        self._prefix = prefix
        self._capacity = capacity
        self._headroom = headroom

    def acquire(self, name: str, rate: float, max_wait: float, now: float | None = None) -> Grant:
        args = [rate * (1 - self._headroom), self._capacity, max_wait]
        if now is not None:
            args.append(f"{now:.6f}")
        granted, wait, at = self._script(keys=[f"{self._prefix}:{name}"], args=args)
        wait_seconds = float(wait)
        return Grant(granted=bool(int(granted)), wait_seconds=wait_seconds, slot_at=float(at) + wait_seconds)
