"""Dead letters: deliveries that ended `failed`, and their safe retry by staff."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.utils import timezone

from delivery.models import Delivery


def dead_letters_retry(delivery_ids: Iterable[int], retried_by: str) -> dict[str, list[int]]:
    """Put failed deliveries back on their queues from the first provider of the chain.

    Each row moves `failed → queued` in a guarded update, so a second click (or a second
    admin) finds it no longer failed and queues nothing: one more send, never two.
    Returns the delivery ids to publish, by queue.
    """
    routes: dict[str, list[int]] = defaultdict(list)
    now = timezone.now()
    for pk, queue in Delivery.objects.filter(pk__in=list(delivery_ids), status=Delivery.Status.FAILED).values_list(
        "pk", "queue"
    ):
        moved = Delivery.objects.filter(pk=pk, status=Delivery.Status.FAILED).update(
            status=Delivery.Status.QUEUED,
            provider_index=0,
            provider_attempts=0,
            reason=f"retried by {retried_by}"[:500],
            updated_at=now,
        )
        if moved:
            routes[queue].append(pk)
    return dict(routes)
