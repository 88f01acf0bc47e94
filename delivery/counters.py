"""Send counters and dedup claims in Redis, shared by every planner.

Counters live only in Redis (DESIGN.md §6): a missing key is a window with no sends yet,
never a reason to count rows in the database. Each counter is one window of one user ×
category × channel and expires a minute after its window ends.

Planning reads the counters (one MGET) for the policy to decide with, then reserves the
sends it decided on in one Lua script that increments a send's counters only if none is
full: two planners racing for the last slot of a window cannot both get it, and a refused
reservation is decided again with the counts the script saw.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import redis

from delivery.provider_health import delivery_redis
from preferences.caps import Window, counter_expiry, window_index

SENT_PREFIX = "clarion:sent"
DEDUP_PREFIX = "clarion:dedup"

# KEYS: the counters of every reservation, in order. ARGV[1]: the number of reservations;
# then per reservation its number of counters n, then n pairs (limit, expiry as Unix time).
# Returns per reservation {granted (0/1), then each counter's value}: after the increment
# when granted, as found when refused.
RESERVE = """
local out = {}
local k = 1
local a = 2
for _ = 1, tonumber(ARGV[1]) do
  local n = tonumber(ARGV[a])
  a = a + 1
  local counts = {}
  local granted = 1
  for i = 0, n - 1 do
    local count = tonumber(redis.call('GET', KEYS[k + i]) or '0')
    counts[i + 1] = count
    if count >= tonumber(ARGV[a + 2 * i]) then
      granted = 0
    end
  end
  if granted == 1 then
    for i = 0, n - 1 do
      counts[i + 1] = redis.call('INCR', KEYS[k + i])
      redis.call('EXPIREAT', KEYS[k + i], ARGV[a + 2 * i + 1])
    end
  end
  table.insert(out, granted)
  for i = 1, n do
    table.insert(out, counts[i])
  end
  k = k + n
  a = a + 2 * n
end
return out
"""


def counter_client() -> redis.Redis:
    # The process's one short-timeout client: planning must not hang on a dead Redis, it
    # sends uncounted instead.
    return delivery_redis()


@dataclass(frozen=True)
class Counter:
    """One window's counter of one user × category × channel."""

    user_id: int
    category_id: int
    channel: str
    window: Window
    at: datetime  # a moment in the window

    @property
    def key(self) -> str:
        seconds = self.window.seconds
        index = window_index(self.at, seconds)
        return f"{SENT_PREFIX}:{self.user_id}:{self.category_id}:{self.channel}:{seconds}:{index}"

    @property
    def expires_at(self) -> int:
        return int(counter_expiry(self.at, self.window.seconds).timestamp())


@dataclass(frozen=True)
class Reservation:
    granted: bool
    counts: dict[int, int]  # window length (s) -> the counter's value


def counts_read(client: redis.Redis, counters: Sequence[Counter]) -> list[int]:
    """Each counter's value; a missing key is zero."""
    if not counters:
        return []
    return [int(value or 0) for value in client.mget([c.key for c in counters])]


def sends_reserve(client: redis.Redis, sends: Sequence[Sequence[Counter]]) -> list[Reservation]:
    """Count each send in all its counters if none is full, in order, atomically."""
    if not sends:
        return []
    keys: list[str] = []
    args: list[int] = [len(sends)]
    for counters in sends:
        args.append(len(counters))
        for counter in counters:
            keys.append(counter.key)
            args += [counter.window.limit, counter.expires_at]
    flat = client.register_script(RESERVE)(keys=keys, args=args)
    reservations, position = [], 0
    for counters in sends:
        values = flat[position + 1 : position + 1 + len(counters)]
        counts = {c.window.seconds: int(v) for c, v in zip(counters, values, strict=True)}
        reservations.append(Reservation(granted=bool(flat[position]), counts=counts))
        position += 1 + len(counters)
    return reservations


@dataclass(frozen=True)
class DedupClaim:
    user_id: int
    category_id: int
    dedup_key: str
    notification_id: str
    window_seconds: int

    @property
    def key(self) -> str:
        # Hashed: a caller's key may be 255 characters of anything.
        digest = hashlib.sha256(self.dedup_key.encode()).hexdigest()
        return f"{DEDUP_PREFIX}:{self.user_id}:{self.category_id}:{digest}"


def dedup_claim(client: redis.Redis, claims: Sequence[DedupClaim]) -> list[str]:
    """Claim each key for its notification (SET NX with the window as TTL) and return the
    notification holding it: the claimant's own id when first (or when claiming again), an
    earlier notification's id for a duplicate."""
    if not claims:
        return []
    pipe = client.pipeline(transaction=True)
    for claim in claims:
        pipe.set(claim.key, claim.notification_id, nx=True, ex=claim.window_seconds)
        pipe.get(claim.key)
    results = pipe.execute()
    return [holder.decode() for holder in results[1::2]]
