"""Celery tasks of the pipeline. Each takes ids, calls a service, and publishes what the
service says comes next. Publishing happens after the service's transaction commits. The
planning tasks also send the in-app deliveries they planned (SENT_BY_PLANNER)."""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone
from redis.exceptions import RedisError

from config.celery import CRITICAL_QUEUE, PIPELINE_QUEUE, SCHEDULED_QUEUE
from delivery.fallback import fallback_after_failure
from delivery.intake import intake_abandon, intake_finish, intake_push, intake_take
from delivery.pipeline import notifications_plan_and_route
from delivery.provider_health import delivery_redis
from delivery.routing import Routes, deliveries_route
from delivery.send_pool import deliveries_send
from delivery.sending import NextStep, SendStep, delivery_release
from delivery.sweeper import pipeline_sweep
from notifications.channels import Channel

logger = logging.getLogger(__name__)

# Tasks carry nothing but ids; an empty repr keeps publishing cheap (PROVIDERS.md).
QUIET = {"argsrepr": "", "kwargsrepr": ""}


def _chunks(ids: Sequence, size: int) -> Iterable[list]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def pipeline_start(notification_ids: Sequence[str], critical: bool, retry: bool = True, gather: bool = False) -> None:
    """Enqueue planning and routing for these notifications, one task per chunk. With
    `gather`, a bulk request's last, partial chunk (all of a small request) joins the intake
    instead (delivery/intake.py), to be planned with other requests' notifications."""
    queue = CRITICAL_QUEUE if critical else PIPELINE_QUEUE
    ids = [str(pk) for pk in notification_ids]
    publish = {"retry": retry, "retry_policy": {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}}
    partial = len(ids) % settings.CLARION_CHUNK_SIZE if gather and not critical else 0
    whole, gathered = ids[: len(ids) - partial], ids[len(ids) - partial :]
    for chunk in _chunks(whole, settings.CLARION_CHUNK_SIZE):
        notification_pipeline_task.apply_async(args=[chunk], queue=queue, **publish, **QUIET)
    if gathered:
        client = delivery_redis()
        if intake_push(client, gathered):
            try:
                intake_drain_task.apply_async(queue=PIPELINE_QUEUE, **publish, **QUIET)
            except Exception:
                intake_abandon(client)
                raise


def deliveries_publish(routes: dict[str, list[int]]) -> None:
    for queue, delivery_ids in routes.items():
        for chunk in _chunks(delivery_ids, settings.CLARION_CHUNK_SIZE):
            delivery_send_task.apply_async(args=[chunk], queue=queue, **QUIET)


def delivery_release_schedule(delivery_id: int, eta: datetime, queue: str = "") -> None:
    """Publish the release of a scheduled delivery at `eta`.

    The ETA message waits on its own small queue, where a backlog of sends cannot hold it
    up; a critical delivery's (its `queue` is `critical`) waits on the critical queue, where
    a morning's worth of quiet-hours releases cannot hold it up either. One further away than
    Redis' visibility timeout would be redelivered early, so it is not published at all: the
    sweeper releases it when due (DESIGN.md invariant 4).
    """
    horizon = timezone.now() + timedelta(seconds=settings.CELERY_VISIBILITY_TIMEOUT_SECONDS - 3600)
    if eta <= horizon:
        release_queue = CRITICAL_QUEUE if queue == CRITICAL_QUEUE else SCHEDULED_QUEUE
        delivery_release_task.apply_async(args=[delivery_id], eta=eta, queue=release_queue, **QUIET)


# The queue whose sends the planning task makes itself instead of publishing them (README,
# "How it works"). In-app delivery is a row in Clarion's own database and a channel-layer
# message, with no provider latency to hide: the queue hop between planning it and sending it
# was over a third of its time to the screen (`make bench`, in-app: 49 ms of 133 at the
# median, 191 of 319 at p99). Quiet-hours releases, retries and failovers still go through
# the `in_app` queue.
SENT_BY_PLANNER = Channel.IN_APP.value


@shared_task
def notification_pipeline_task(notification_ids: list[str]) -> None:
    _plan_publish_and_send(notification_ids)


def _plan_publish_and_send(notification_ids: Sequence[str]) -> None:
    routes = notifications_plan_and_route(notification_ids)
    own_sends = routes.to_send.pop(SENT_BY_PLANNER, [])
    _publish(routes)
    for chunk in _chunks(own_sends, settings.CLARION_CHUNK_SIZE):
        try:
            _deliveries_send_and_follow(chunk)
        except Exception:
            # Planning goes on whatever happens to these sends: a drain that stopped here would
            # hold up every channel's notifications behind it. The chunk goes to its queue,
            # whose task sends what is still unclaimed; a delivery already claimed waits for
            # the sweeper, as one a failed send task claimed would.
            logger.exception(
                "the planning task's %s sends failed; %d handed to their queue", SENT_BY_PLANNER, len(chunk)
            )
            deliveries_publish({SENT_BY_PLANNER: chunk})


# A drain hands over to a fresh task after this many chunks: a long busy spell then leaves
# room between tasks for the process's other work, and the flag stays with the new task.
DRAIN_CHUNKS_PER_TASK = 50


@shared_task
def intake_drain_task() -> None:
    client = delivery_redis()
    try:
        for _ in range(DRAIN_CHUNKS_PER_TASK):
            notification_ids = intake_take(client, settings.CLARION_CHUNK_SIZE)
            if not notification_ids:
                if intake_finish(client):
                    continue
                return
            _plan_publish_and_send(notification_ids)
        intake_drain_task.apply_async(queue=PIPELINE_QUEUE, **QUIET)
    except Exception:
        # A drain that failed (PostgreSQL restarting, the broker gone) lets go of its flag, so
        # the next push starts a new one instead of finding the flag held for its whole TTL
        # while the intake grows. What it had taken stays `accepted`, for the sweeper.
        with contextlib.suppress(RedisError):
            intake_abandon(client)
        raise


@shared_task
def delivery_route_task(notification_ids: list[str]) -> None:
    _route_and_publish(notification_ids)


def _route_and_publish(notification_ids: Sequence[str]) -> None:
    _publish(deliveries_route(notification_ids))


def _publish(routes: Routes) -> None:
    deliveries_publish(routes.to_send)
    for delivery_id, eta in routes.to_schedule:
        delivery_release_schedule(delivery_id, eta)


@shared_task(soft_time_limit=600, time_limit=660)
def delivery_send_task(delivery_ids: list[int]) -> None:
    _deliveries_send_and_follow(delivery_ids)


def _deliveries_send_and_follow(delivery_ids: list[int]) -> None:
    """Send a chunk, its provider calls overlapped (delivery/send_pool.py), and publish what
    comes next for each delivery as soon as its result is recorded."""
    failed_over: dict[str, list[int]] = defaultdict(list)

    def publish_next(delivery_id: int, step: SendStep) -> None:
        if step.next_step == NextStep.REQUEUE:
            # A provider failing over takes a whole chunk with it: its sends go on together,
            # as chunks, not as one task (and one call at a time) each.
            failed_over[step.queue].append(delivery_id)
        elif step.next_step == NextStep.RETRY_LATER:
            delivery_release_schedule(delivery_id, step.retry_at, step.queue)
        elif step.failed:
            notification_id = fallback_after_failure(delivery_id)
            if notification_id is not None:
                _route_and_publish([str(notification_id)])

    try:
        deliveries_send(delivery_ids, publish_next)
    finally:
        # Also when the chunk stops early: these are recorded `queued` and wait for no one else.
        deliveries_publish(failed_over)


@shared_task
def delivery_release_task(delivery_id: int) -> None:
    queue = delivery_release(delivery_id)
    if queue:
        deliveries_publish({queue: [delivery_id]})


@shared_task
def pipeline_sweep_task() -> None:
    result = pipeline_sweep()
    critical = result.critical_notifications
    bulk = [pk for pk in result.notifications_to_plan if pk not in critical]
    if critical:
        pipeline_start(sorted(critical, key=str), critical=True)
    if bulk:
        pipeline_start(bulk, critical=False)
    if result.notifications_to_route:
        for chunk in _chunks([str(pk) for pk in result.notifications_to_route], settings.CLARION_CHUNK_SIZE):
            delivery_route_task.apply_async(args=[chunk], **QUIET)
    deliveries_publish(result.deliveries_to_send)
    swept = len(result.notifications_to_plan) + len(result.notifications_to_route)
    swept += sum(len(ids) for ids in result.deliveries_to_send.values())
    if swept:
        logger.warning(
            "sweeper re-enqueued %d notifications to plan, %d to route, %d deliveries to send",
            len(result.notifications_to_plan),
            len(result.notifications_to_route),
            sum(len(ids) for ids in result.deliveries_to_send.values()),
        )
