"""The digest flusher, run by celery-beat every minute (CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

import logging

from celery import shared_task

from delivery.tasks import deliveries_publish, delivery_release_schedule
from digests.services import digest_flush

logger = logging.getLogger(__name__)

# A bound on one run; a backlog beyond it waits for the next minute's run.
MAX_ROUNDS = 20


@shared_task(soft_time_limit=240, time_limit=300)
def digest_flush_task() -> None:
    sent = 0
    for _ in range(MAX_ROUNDS):
        result = digest_flush()
        deliveries_publish(result.to_send)
        for delivery_id, eta in result.to_schedule:
            delivery_release_schedule(delivery_id, eta)
        sent += result.digests
        if not result.more:
            break
    if sent:
        logger.info("flushed %d digests", sent)
