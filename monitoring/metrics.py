"""Prometheus metrics: counters recorded where things happen, gauges read live at scrape time.

prometheus_client runs in multi-process mode: each process (web, the worker and its pool
children, beat) writes its counters and histograms to files in PROMETHEUS_MULTIPROC_DIR, and a
scrape adds them up. prometheus_client picks the mode when it is first imported, so settings
set the variable (config/settings.py), and every process loads settings before this module.
Files of processes that exited stay and keep counting, as counters must; `mark_process_dead`
would only clear live gauges, and none are kept in files here.

Queue depths, breakers, the scheduled backlog and dead letters are state, not events: they are
read from Redis and the database by `LiveStateCollector` at each scrape, so they are right
however many processes there are and whichever of them died.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import redis
from django.db import DatabaseError
from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from delivery.breaker import BreakerState
from delivery.chains import configured_names
from delivery.models import Delivery
from delivery.provider_health import breaker_store, delivery_redis
from delivery.status import queue_depths
from notifications.channels import ALL_CHANNELS

logger = logging.getLogger(__name__)

API_REJECTION_REASONS = ("rate_limited", "load_shed")

notifications_accepted = Counter(
    "clarion_notifications_accepted",
    "Notifications committed by the API (one per recipient), by category.",
    ["category"],
)
# One per provider attempt, labelled with the adapter's normalized result; a delivery retried
# three times before it went through counts three `retryable` and one `delivered`.
deliveries = Counter(
    "clarion_deliveries",
    "Provider attempts, by channel, provider and outcome (delivered, retryable, permanent).",
    ["channel", "provider", "outcome"],
)
attempt_latency = Histogram(
    "clarion_attempt_latency_seconds",
    "Time a provider took to answer one attempt.",
    ["channel", "provider"],
    # Providers answer in milliseconds to seconds; the provider timeout defaults to 10 s.
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
api_rejections = Counter(
    "clarion_api_rejections",
    "API requests refused before doing any work, by reason (rate_limited, load_shed).",
    ["reason"],
)


def notifications_accepted_record(category: str, count: int) -> None:
    notifications_accepted.labels(category=category).inc(count)


def attempt_record(channel: str, provider: str, outcome: str, seconds: float) -> None:
    deliveries.labels(channel=channel, provider=provider, outcome=outcome).inc()
    attempt_latency.labels(channel=channel, provider=provider).observe(seconds)


def api_rejection_record(reason: str) -> None:
    """Count one refused API request; `reason` is "rate_limited" or "load_shed"."""
    if reason not in API_REJECTION_REASONS:
        # A label value per caller's whim would grow the series without bound.
        raise ValueError(f"unknown API rejection reason {reason!r}; use one of {API_REJECTION_REASONS}")
    api_rejections.labels(reason=reason).inc()


def provider_names() -> list[str]:
    """Every provider of every channel's configured chain, once, in chain order."""
    return list(dict.fromkeys(name for channel in ALL_CHANNELS for name in configured_names(channel)))


class LiveStateCollector(Collector):
    """Gauges read at scrape time. Whatever cannot be read (Redis or the database down) is left
    out of the scrape, and `clarion_redis_up` says whether Redis answered."""

    def collect(self) -> Iterator[Metric]:
        client = delivery_redis()
        depths = queue_depths(client)
        redis_up = all(depth is not None for depth in depths.values())
        yield GaugeMetricFamily("clarion_redis_up", "Whether Redis answered this scrape (1) or not (0).", int(redis_up))
        if redis_up:
            yield _queue_depth_family(depths)
            breakers = _breaker_families()
            if breakers is not None:
                yield from breakers
        yield from _backlog_families()


def _queue_depth_family(depths: dict[str, int | None]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        "clarion_queue_depth", "Messages waiting in each Celery queue; ids waiting in the intake.", labels=["queue"]
    )
    for queue, depth in depths.items():
        family.add_metric([queue], depth)
    return family


def _breaker_families() -> list[GaugeMetricFamily] | None:
    store = breaker_store()
    state = GaugeMetricFamily(
        "clarion_breaker_state",
        "Each provider's circuit breaker: 1 for its current state, 0 for the others.",
        labels=["provider", "state"],
    )
    weight = GaugeMetricFamily(
        "clarion_breaker_weight_percent",
        "Percent of the traffic reaching a provider that it takes (below 100 while shedding load).",
        labels=["provider"],
    )
    try:
        breakers = {name: store.read(name) for name in provider_names()}
    except redis.RedisError as error:
        logger.warning("metrics scrape could not read the circuit breakers: %s", error)
        return None
    for name, breaker in breakers.items():
        for candidate in BreakerState:
            state.add_metric([name, candidate.value], int(breaker.state == candidate))
        weight.add_metric([name], breaker.weight)
    return [state, weight]


def _backlog_families() -> list[GaugeMetricFamily]:
    try:
        # Two counts on the (status, updated_at) index; no scan of the delivery log.
        scheduled = Delivery.objects.filter(status=Delivery.Status.SCHEDULED).count()
        failed = Delivery.objects.filter(status=Delivery.Status.FAILED).count()
    except DatabaseError as error:
        logger.warning("metrics scrape could not count deliveries: %s", error)
        return []
    return [
        GaugeMetricFamily(
            "clarion_scheduled_backlog", "Deliveries scheduled for later (quiet hours, retries, waits).", scheduled
        ),
        GaugeMetricFamily("clarion_dead_letters", "Deliveries that ended failed (the dead letters).", failed),
    ]


def metrics_exposition(accept: str | None) -> tuple[bytes, str]:
    """The scrape body and its content type: every process's counters and the live gauges."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(LiveStateCollector())
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type
