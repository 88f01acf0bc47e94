"""Send counters and dedup claims against the real Redis: atomic under concurrent callers,
expiring with their window, and a missing key counting as zero."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import redis

from delivery.counters import Counter, DedupClaim, counts_read, dedup_claim, sends_reserve
from preferences.caps import DAY, HOUR, Window
from tests.support.counters import counters_clear

# Counters of windows long past expire at once (EXPIREAT in the past): count in the present,
# read when each test runs (a time read at import can lie in an hour that ended since).


@pytest.fixture
def client(redis_client: redis.Redis):
    counters_clear(redis_client)
    yield redis_client
    counters_clear(redis_client)


def counter(window: Window, user_id: int = 1, channel: str = "email", at: datetime | None = None) -> Counter:
    return Counter(user_id=user_id, category_id=7, channel=channel, window=window, at=at or datetime.now(UTC))


def test_a_missing_counter_is_zero(client):
    assert counts_read(client, [counter(Window(HOUR, 3)), counter(Window(DAY, 10))]) == [0, 0]


def test_counters_are_per_user_category_channel_and_window(client):
    now = datetime.now(UTC)
    hour = Window(HOUR, 3)
    keys = {
        counter(hour, at=now).key,
        counter(hour, user_id=2, at=now).key,
        counter(hour, channel="sms", at=now).key,
        counter(Window(DAY, 3), at=now).key,
        counter(hour, at=now + timedelta(hours=1)).key,
    }

    assert len(keys) == 5
    start_of_hour = now.replace(minute=0, second=0, microsecond=0)
    assert counter(hour, at=start_of_hour).key == counter(hour, at=start_of_hour + timedelta(minutes=59)).key


def test_reservations_are_granted_up_to_the_limit_then_refused_with_the_counts(client):
    hour = counter(Window(HOUR, 3))

    reservations = sends_reserve(client, [[hour]] * 5)

    assert [r.granted for r in reservations] == [True, True, True, False, False]
    assert [r.counts for r in reservations] == [{HOUR: 1}, {HOUR: 2}, {HOUR: 3}, {HOUR: 3}, {HOUR: 3}]
    assert counts_read(client, [hour]) == [3]


def test_a_refused_reservation_counts_in_none_of_its_windows(client):
    hour, day = counter(Window(HOUR, 5)), counter(Window(DAY, 2))

    reservations = sends_reserve(client, [[hour, day]] * 3)

    assert [r.granted for r in reservations] == [True, True, False]
    assert counts_read(client, [hour, day]) == [2, 2]


def test_counters_expire_a_minute_after_their_window_ends(client):
    hour = counter(Window(HOUR, 5))

    sends_reserve(client, [[hour]])

    ttl = client.ttl(hour.key)
    assert 60 < ttl <= HOUR + 60
    assert abs(time.time() + ttl - hour.expires_at) <= 2


def test_concurrent_reservations_never_exceed_the_limit(client):
    hour, day = counter(Window(HOUR, 50)), counter(Window(DAY, 1000))
    start = threading.Barrier(16)

    def reserve_ten() -> int:
        own = redis.Redis(connection_pool=client.connection_pool)
        start.wait()
        return sum(r.granted for _ in range(10) for r in sends_reserve(own, [[hour, day]]))

    with ThreadPoolExecutor(max_workers=16) as pool:
        granted = sum(pool.map(lambda _: reserve_ten(), range(16)))

    assert granted == 50
    assert counts_read(client, [hour, day]) == [50, 50]


def test_the_first_claim_of_a_dedup_key_holds_it_and_a_repeat_gets_the_first(client):
    first = DedupClaim(user_id=1, category_id=7, dedup_key="post-9", notification_id="n-1", window_seconds=600)
    repeat = DedupClaim(user_id=1, category_id=7, dedup_key="post-9", notification_id="n-2", window_seconds=600)
    other_user = DedupClaim(user_id=2, category_id=7, dedup_key="post-9", notification_id="n-3", window_seconds=600)

    assert dedup_claim(client, [first]) == ["n-1"]
    assert dedup_claim(client, [repeat, other_user, first]) == ["n-1", "n-3", "n-1"]
    assert 590 < client.ttl(first.key) <= 600


def test_a_dedup_key_is_free_again_after_its_window(client):
    claim = DedupClaim(user_id=1, category_id=7, dedup_key="k", notification_id="n-1", window_seconds=1)
    dedup_claim(client, [claim])
    client.pexpire(claim.key, 1)  # the window passes
    time.sleep(0.01)

    assert dedup_claim(client, [replace_id(claim, "n-2")]) == ["n-2"]


def replace_id(claim: DedupClaim, notification_id: str) -> DedupClaim:
    return DedupClaim(claim.user_id, claim.category_id, claim.dedup_key, notification_id, claim.window_seconds)


def test_concurrent_claims_of_one_key_have_one_winner(client):
    start = threading.Barrier(12)

    def claim(n: int) -> tuple[str, str]:
        start.wait()
        mine = DedupClaim(1, 7, "burst", f"n-{n}", 600)
        return mine.notification_id, dedup_claim(redis.Redis(connection_pool=client.connection_pool), [mine])[0]

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(claim, range(12)))

    holders = {holder for _, holder in results}
    assert len(holders) == 1
    assert sum(mine == holder for mine, holder in results) == 1
