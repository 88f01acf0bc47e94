"""Operational status: queue depths in Redis and the pipeline's backlog in the database."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from django.conf import settings
from django.db.models import Count

from config.celery import ALL_QUEUES
from delivery.intake import INTAKE_KEY, INTAKE_NAME
from delivery.models import Delivery
from notifications.models import Notification

# kombu's Redis transport keeps a queue's messages of each priority step in its own list.
PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")


@dataclass(frozen=True)
class PipelineStatus:
    queue_depths: dict[str, int | None]  # None: Redis could not be reached
    deliveries_by_status: dict[str, int]
    notifications_waiting: int  # accepted, not yet planned
    scheduled_backlog: int
    dead_letters: int


def queue_depths(client: redis.Redis) -> dict[str, int | None]:
    """Messages waiting in each Celery queue, and notification ids waiting in the intake
    (delivery/intake.py) under the name `intake`."""
    names = [*ALL_QUEUES, INTAKE_NAME]
    try:
        with client.pipeline(transaction=False) as pipe:
            for queue in ALL_QUEUES:
                for suffix in PRIORITY_SUFFIXES:
                    pipe.llen(f"{queue}{suffix}")
            pipe.llen(INTAKE_KEY)
            lengths = pipe.execute()
    except redis.RedisError:
        return dict.fromkeys(names)
    steps = len(PRIORITY_SUFFIXES)
    depths = {queue: sum(lengths[i * steps : (i + 1) * steps]) for i, queue in enumerate(ALL_QUEUES)}
    return {**depths, INTAKE_NAME: lengths[-1]}


def pipeline_status() -> PipelineStatus:
    counts = dict(Delivery.objects.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        depths = queue_depths(client)
    finally:
        client.close()
    return PipelineStatus(
        queue_depths=depths,
        deliveries_by_status={status: counts.get(status, 0) for status in Delivery.Status.values},
        notifications_waiting=Notification.objects.filter(status=Notification.Status.ACCEPTED).count(),
        scheduled_backlog=counts.get(Delivery.Status.SCHEDULED, 0),
        dead_letters=counts.get(Delivery.Status.FAILED, 0),
    )
