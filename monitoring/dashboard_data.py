"""What the staff dashboard shows, read from the database and Redis.

The page refreshes itself every few seconds in every open tab, so each query here is
bounded: by an index range over the window, by a sample size, or by the handful of rows
(queues, providers, channels) it groups into. Counters and breakers live in Redis, and an
unreachable Redis must still leave a page that says so rather than an error.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis
from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncHour, TruncMinute
from django.utils import timezone

from delivery.breaker_store import BreakerStore
from delivery.chains import configured_names
from delivery.models import Delivery, DeliveryAttempt, ProviderHealth
from delivery.provider_health import breaker_config, redis_for_sending
from delivery.status import queue_depths
from digests.models import DigestItem
from notifications.channels import ALL_CHANNELS

SENT_STATUSES = (Delivery.Status.SENT, Delivery.Status.DELIVERED)
LATENCY_SAMPLE = 5000  # the latest sends in the window that the percentiles are taken over
ATTEMPT_BOUND_SLACK = timedelta(minutes=5)
SLO_SECONDS = 10  # GOV.UK Notify's objective: handed to a provider within 10 s of the API call (DESIGN.md §6)
# The policy's reasons for holding a message until the user may be interrupted (preferences.policy).
DEFERRED_BY_USER = Q(reason__contains="deferred: quiet hours") | Q(reason__contains="deferred: paused")


@dataclass(frozen=True)
class TimeWindow:
    key: str  # the ?window= value
    label: str
    span: timedelta
    step: timedelta
    trunc: type[TruncMinute] | type[TruncHour]  # truncates a timestamp to `step`
    tick_format: str

    def buckets(self, now: datetime) -> list[datetime]:
        """The start of each step in the window, oldest first, the last one holding `now`."""
        step = self.step.total_seconds()
        last = datetime.fromtimestamp(now.timestamp() // step * step, tz=UTC)
        count = int(self.span / self.step)
        return [last - self.step * (count - 1 - i) for i in range(count)]


WINDOWS = {
    window.key: window
    for window in (
        TimeWindow("1h", "Last hour, by minute", timedelta(hours=1), timedelta(minutes=1), TruncMinute, "%H:%M"),
        TimeWindow("24h", "Last 24 hours, by hour", timedelta(hours=24), timedelta(hours=1), TruncHour, "%H:00"),
    )
}
DEFAULT_WINDOW = "1h"


def window_for(key: str | None) -> TimeWindow:
    """The window a ?window= value names; the default for anything else."""
    return WINDOWS.get(key or "", WINDOWS[DEFAULT_WINDOW])


@dataclass(frozen=True)
class Volume:
    buckets: list[datetime]
    sends: dict[str, list[int]]  # per channel, one count per bucket


@dataclass(frozen=True)
class ProviderSuccess:
    provider: str
    attempts: int
    delivered: int

    @property
    def rate(self) -> float:
        return self.delivered / self.attempts if self.attempts else 0.0


@dataclass(frozen=True)
class Latency:
    channel: str  # or "all"
    sends: int
    p50: float | None  # seconds from accept to sent; None without sends
    p95: float | None
    within_slo: float | None  # share of sends handed over within SLO_SECONDS


@dataclass(frozen=True)
class Backlog:
    deferred: int  # held until a user's quiet hours or pause end
    retries: int  # waiting for a retry, or for a breaker or rate limit to admit them
    digest_items: int  # folded into digests that have not gone out yet


@dataclass(frozen=True)
class BreakerView:
    provider: str
    state: str  # a ProviderHealth.State value
    weight: int
    live: bool  # read from Redis now; False: the last change a worker recorded in the database


@dataclass(frozen=True)
class Dashboard:
    window: TimeWindow
    generated_at: datetime
    volume: Volume
    success: list[ProviderSuccess]
    latency: list[Latency]
    queue_depths: dict[str, int | None]  # None: Redis could not be reached
    backlog: Backlog
    dead_letters: dict[str, int]  # failed deliveries per channel
    breakers: list[BreakerView]

    @property
    def redis_reachable(self) -> bool:
        return any(depth is not None for depth in self.queue_depths.values())


def _sent_since(since: datetime) -> QuerySet[Delivery]:
    # A delivery's updated_at is written with or after its sent_at, so the (status,
    # updated_at) index bounds the scan to the window; sent_at then filters exactly.
    return Delivery.objects.filter(status__in=SENT_STATUSES, updated_at__gte=since, sent_at__gte=since)


def channel_volume(window: TimeWindow, now: datetime) -> Volume:
    """Sends (handed to a provider, or stored in an inbox) per channel in each step of the window."""
    buckets = window.buckets(now)
    position = {bucket: i for i, bucket in enumerate(buckets)}
    sends = {channel: [0] * len(buckets) for channel in ALL_CHANNELS}
    rows = (
        _sent_since(buckets[0])
        .annotate(bucket=window.trunc("sent_at", tzinfo=UTC))
        .values("channel", "bucket")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("channel", "bucket", "n")
    )
    for channel, bucket, n in rows:
        i = position.get(bucket)
        if i is not None and channel in sends:
            sends[channel][i] += n
    return Volume(buckets, sends)


def provider_success(since: datetime) -> list[ProviderSuccess]:
    """Attempts per provider since `since`, and how many the provider delivered."""
    attempts = DeliveryAttempt.objects.filter(finished_at__gte=since)
    # Attempts have no time index, but ids grow with time: the newest id of an attempt well
    # before the window (a backward scan by primary key that stops there) bounds the scan.
    # The slack keeps an attempt written late, by a worker whose clock runs behind, from
    # cutting off the window's first rows.
    before = (
        DeliveryAttempt.objects.filter(finished_at__lt=since - ATTEMPT_BOUND_SLACK)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )
    if before is not None:
        attempts = attempts.filter(pk__gt=before)
    rows = (
        attempts.values("provider")
        .annotate(attempts=Count("pk"), delivered=Count("pk", filter=Q(outcome=DeliveryAttempt.Outcome.DELIVERED)))
        .order_by("provider")
        .values_list("provider", "attempts", "delivered")
    )
    return [ProviderSuccess(provider, total, delivered) for provider, total, delivered in rows]


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The nearest-rank percentile of `values` (sorted or not); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    # Rounded first, so that 20 × 0.95 stays rank 19 rather than drifting up to 20.
    rank = max(1, math.ceil(round(len(ordered) * fraction, 9)))
    return ordered[rank - 1]


def latency_summary(channel: str, seconds: Sequence[float]) -> Latency:
    within = sum(1 for s in seconds if s <= SLO_SECONDS) / len(seconds) if seconds else None
    return Latency(channel, len(seconds), percentile(seconds, 0.5), percentile(seconds, 0.95), within)


def send_latency(since: datetime, sample: int = LATENCY_SAMPLE) -> list[Latency]:
    """Accept-to-sent seconds per channel and overall, over the latest `sample` sends since
    `since`. A message held for quiet hours counts its wait too: nothing on the row says
    which part of a delay the user asked for once it has been sent."""
    rows = (
        _sent_since(since).order_by("-sent_at").values_list("channel", "sent_at", "notification__created_at")[:sample]
    )
    by_channel: dict[str, list[float]] = defaultdict(list)
    for channel, sent_at, accepted_at in rows:
        by_channel[channel].append(max((sent_at - accepted_at).total_seconds(), 0.0))
    every = [s for seconds in by_channel.values() for s in seconds]
    return [latency_summary(channel, by_channel.get(channel, [])) for channel in ALL_CHANNELS] + [
        latency_summary("all", every)
    ]


def scheduled_backlog() -> Backlog:
    counts = Delivery.objects.filter(status=Delivery.Status.SCHEDULED).aggregate(
        total=Count("pk"), deferred=Count("pk", filter=DEFERRED_BY_USER)
    )
    return Backlog(
        deferred=counts["deferred"],
        retries=counts["total"] - counts["deferred"],
        digest_items=DigestItem.objects.filter(flushed_at__isnull=True).count(),
    )


def dead_letters() -> dict[str, int]:
    counts = dict(
        Delivery.objects.filter(status=Delivery.Status.FAILED)
        .values("channel")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("channel", "n")
    )
    return {channel: counts.get(channel, 0) for channel in ALL_CHANNELS}


def _providers() -> list[str]:
    """Every provider of a configured chain, then any other one with a recorded breaker."""
    names = dict.fromkeys(name for channel in ALL_CHANNELS for name in configured_names(channel))
    names.update(dict.fromkeys(ProviderHealth.objects.values_list("provider", flat=True)))
    return list(names)


def breaker_states(client: redis.Redis | None) -> list[BreakerView]:
    """Each provider's breaker as the workers see it in Redis; without Redis, as its last
    recorded change left it (closed at full weight when it never changed)."""
    providers = _providers()
    if client is not None:
        store = BreakerStore(client, breaker_config())
        try:
            return [
                BreakerView(name, breaker.state.value, breaker.weight, live=True)
                for name, breaker in ((name, store.read(name)) for name in providers)
            ]
        except redis.RedisError:
            pass  # the recorded states below are the best left to show
    recorded = {
        provider: (state, weight)
        for provider, state, weight in ProviderHealth.objects.filter(provider__in=providers).values_list(
            "provider", "state", "weight"
        )
    }
    closed = (ProviderHealth.State.CLOSED.value, 100)
    return [BreakerView(name, *recorded.get(name, closed), live=False) for name in providers]


def dashboard_data(window: TimeWindow, now: datetime | None = None) -> Dashboard:
    now = now or timezone.now()
    since = window.buckets(now)[0]
    client = redis_for_sending(settings.REDIS_URL)
    try:
        depths = queue_depths(client)
        # Once the queue lengths could not be read, don't wait on Redis a second time.
        breakers = breaker_states(client if any(d is not None for d in depths.values()) else None)
    finally:
        client.close()
    return Dashboard(
        window=window,
        generated_at=now,
        volume=channel_volume(window, now),
        success=provider_success(since),
        latency=send_latency(since),
        queue_depths=depths,
        backlog=scheduled_backlog(),
        dead_letters=dead_letters(),
        breakers=breakers,
    )
