"""What the bench reads from the database and Redis to measure a run: deliveries that reached
a final state and when, the time from a stamped POST to its provider, and the cost counters."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import redis
from django.db.models import Count, Max, Q

from bench.query_count import queries_total
from bench.stores import redis_commands_total
from delivery.models import FINAL_STATUSES, Delivery
from notifications.models import Notification

POLL_SECONDS = 0.25


@dataclass(frozen=True)
class Final:
    count: int  # deliveries in a final state
    failed: int
    last: float | None  # epoch seconds of the latest one to get there


def final_now(categories: list[str]) -> Final:
    totals = Delivery.objects.filter(notification__category__slug__in=categories, status__in=FINAL_STATUSES).aggregate(
        count=Count("pk"), failed=Count("pk", filter=Q(status=Delivery.Status.FAILED)), last=Max("updated_at")
    )
    last = totals["last"].timestamp() if totals["last"] else None
    return Final(count=totals["count"], failed=totals["failed"], last=last)


def deliveries_final(categories: list[str], expected: int, deadline: float) -> Final:
    """Wait until `expected` deliveries of these categories are final, or the deadline."""
    while True:
        final = final_now(categories)
        if final.count >= expected or time.time() > deadline:
            return final
        time.sleep(POLL_SECONDS)


def backlog_now(category: str) -> int:
    """Notifications of the category accepted and not yet delivered."""
    return notifications_accepted(category) - final_now([category]).count


def notifications_accepted(category: str) -> int:
    return Notification.objects.filter(category__slug=category).count()


def latencies_to_provider_ms(category: str) -> list[float]:
    """For each delivery of the category a provider took: its `sent_at` less the `sent_at`
    its sender stamped into the notification's data when the POST was due."""
    rows = Delivery.objects.filter(notification__category__slug=category, sent_at__isnull=False).values_list(
        "sent_at", "notification__data"
    )
    return [(sent_at.timestamp() - data["sent_at"]) * 1000 for sent_at, data in rows if "sent_at" in data]


def percentile_with_missing(latencies: list[float], missing: int, share: float) -> float | None:
    """A percentile counting messages that had not arrived when the run ended as slower than
    any that did; None when it falls on one of those."""
    ordered = sorted(latencies) + [math.inf] * max(missing, 0)
    if not ordered:
        return None
    value = ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]
    return None if math.isinf(value) else round(value, 1)


@dataclass(frozen=True)
class CostCounters:
    queries: int
    redis_commands: int


def cost_counters(query_count_dir: Path, client: redis.Redis) -> CostCounters:
    return CostCounters(queries=queries_total(query_count_dir), redis_commands=redis_commands_total(client))
