"""Staff cancelling deliveries that wait for their time (quiet hours, retry backoff)."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone

from delivery.models import Delivery


def scheduled_cancel(delivery_ids: Iterable[int], cancelled_by: str) -> int:
    """Move scheduled deliveries to `skipped`, naming who cancelled them.

    The guarded update means a release firing at the same moment finds the row no longer
    scheduled (or the cancel finds it already queued): the delivery is sent or cancelled,
    never both. Returns how many were cancelled.
    """
    return Delivery.objects.filter(pk__in=list(delivery_ids), status=Delivery.Status.SCHEDULED).update(
        status=Delivery.Status.SKIPPED,
        reason=f"cancelled by {cancelled_by}"[:500],
        updated_at=timezone.now(),
    )
