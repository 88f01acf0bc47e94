"""Load shedding: while a queue a notification would pass through holds more than
CLARION_SHED_LOW_PRIORITY_DEPTH messages, new low-priority notifications are refused with a
429; normal, high and security ones are accepted as ever.

Low priority is the traffic that can wait: refusing it at the door, where the calling app
still holds it and can retry, keeps the backlog from growing and leaves the workers to the
rest, instead of accepting it into a queue hours long. A notification passes through the
pipeline queue (planning), then one queue per channel; high priority and security ones take
the critical queue instead and are never shed.

The depths come from one pipelined LLEN read per process at most every DEPTH_MAX_AGE_SECONDS,
so the POST path does not pay a Redis round trip for them, and the category is looked up only
while some queue is over the threshold. Redis unreachable: depths are unknown, nothing is shed.

The check runs before the idempotency lookup, so while shedding, a repeat of an accepted
low-priority request is refused too; retried later, it returns the original notifications.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from django.conf import settings

from config.celery import CHANNEL_QUEUES, PIPELINE_QUEUE
from delivery.intake import INTAKE_NAME
from delivery.provider_health import delivery_redis
from delivery.status import queue_depths
from monitoring.metrics import api_rejection_record
from notifications.api_errors import TooManyRequests
from notifications.lookup_cache import enabled_category
from notifications.models import Priority

logger = logging.getLogger(__name__)

DEPTH_MAX_AGE_SECONDS = 1.0
# A backlog deep enough to shed takes minutes to drain; callers retrying sooner add load.
SHED_RETRY_AFTER_SECONDS = 30


@dataclass(frozen=True)
class Backlog:
    queue: str
    depth: int


def shed_decide(
    priority: str, critical: bool, queues: Iterable[str], depths: Mapping[str, int | None], threshold: int
) -> Backlog | None:
    """The deepest of `queues` over `threshold` when a notification of this priority is shed
    for it; None when it is accepted. Only low priority is shed, never security (`critical`);
    an unknown depth (None) never sheds."""
    if priority != Priority.LOW or critical or threshold <= 0:
        return None
    over = [Backlog(queue, depth) for queue in queues if (depth := depths.get(queue)) is not None and depth > threshold]
    return max(over, key=lambda backlog: backlog.depth, default=None)


class QueueDepthCache:
    """Queue depths, read from Redis at most once per `max_age` seconds in this process."""

    def __init__(self, max_age: float) -> None:
        self._max_age = max_age
        self._read_at: float | None = None
        self._depths: dict[str, int | None] = {}

    def depths(self) -> dict[str, int | None]:
        now = time.monotonic()
        if self._read_at is None or now - self._read_at >= self._max_age:
            depths = queue_depths(delivery_redis())
            if None in depths.values():
                logger.warning("Redis unavailable, queue depths unknown: no load is shed")
            # Threads may both read on expiry; the later write wins, and both are as fresh.
            self._depths, self._read_at = depths, now
        return self._depths

    def clear(self) -> None:
        self._read_at = None


queue_depth_cache = QueueDepthCache(DEPTH_MAX_AGE_SECONDS)


def _in_messages(depths: Mapping[str, int | None]) -> dict[str, int | None]:
    """Depths in the threshold's unit, a queue's messages: the intake counts notification
    ids, which the pipeline takes a chunk (one task's worth) at a time."""
    waiting = depths.get(INTAKE_NAME)
    chunks = None if waiting is None else math.ceil(waiting / settings.CLARION_CHUNK_SIZE)
    return {**depths, INTAKE_NAME: chunks}


def notification_shed_check(category_slug: str, priority: str | None, channels: Sequence[str]) -> None:
    """Refuse a request to send with a 429 when its notifications would be shed. `priority` and
    `channels` are the request's own (None and empty: the category's)."""
    threshold = settings.CLARION_SHED_LOW_PRIORITY_DEPTH
    if threshold <= 0 or priority in (Priority.NORMAL, Priority.HIGH):
        return
    depths = _in_messages(queue_depth_cache.depths())
    # Judged as if the category were low priority, not security and on every channel: when
    # even that passes, the category need not be looked up.
    widest = (PIPELINE_QUEUE, INTAKE_NAME, *(channels or CHANNEL_QUEUES))
    if shed_decide(Priority.LOW, False, widest, depths, threshold) is None:
        return
    category = enabled_category(category_slug)
    if category is None:
        return  # accepting refuses it with a 400
    queues = (PIPELINE_QUEUE, INTAKE_NAME, *(channels or category.default_channels))
    backlog = shed_decide(priority or category.priority, category.is_critical, queues, depths, threshold)
    if backlog is None:
        return
    api_rejection_record("load_shed")
    raise TooManyRequests(
        SHED_RETRY_AFTER_SECONDS,
        "load_shed",
        f"Low-priority notifications are refused while the {backlog.queue} queue's backlog "
        f"({backlog.depth} messages) is over {threshold}. Retry later, or send with a higher priority.",
        {"priority": f"Low priority is shed while the {backlog.queue} backlog is over {threshold} messages."},
    )
