"""The sweeper: find work lost in transit and hand it back to the pipeline.

Nothing in Clarion depends on a message surviving in Redis alone (DESIGN.md invariant 1).
Each sweep touches `updated_at` on what it hands back, so a row is re-enqueued once per
grace period, not once per sweep; the claim in `delivery_send` makes a second copy of a
task harmless.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from delivery.models import Delivery
from notifications.models import Notification

SWEEP_BATCH = 5000


@dataclass
class SweepResult:
    notifications_to_plan: list[UUID] = field(default_factory=list)
    notifications_to_route: list[UUID] = field(default_factory=list)
    deliveries_to_send: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    critical_notifications: set[UUID] = field(default_factory=set)


def _ago(now: datetime, seconds: float) -> datetime:
    return now - timedelta(seconds=seconds)


def pipeline_sweep(now: datetime | None = None) -> SweepResult:
    now = now or timezone.now()
    result = SweepResult()
    with transaction.atomic():
        stuck_accepted = list(
            Notification.objects.filter(
                status=Notification.Status.ACCEPTED, updated_at__lt=_ago(now, settings.CLARION_ACCEPTED_GRACE_SECONDS)
            )
            .select_related("category")
            .only("pk", "priority", "category__kind")[:SWEEP_BATCH]
        )
        Notification.objects.filter(pk__in=[n.pk for n in stuck_accepted]).update(updated_at=now)
        result.notifications_to_plan = [n.pk for n in stuck_accepted]
        result.critical_notifications = {n.pk for n in stuck_accepted if n.is_critical}

        stuck_pending = Delivery.objects.filter(
            status=Delivery.Status.PENDING, updated_at__lt=_ago(now, settings.CLARION_ACCEPTED_GRACE_SECONDS)
        )
        pending_rows = list(stuck_pending.values_list("pk", "notification_id")[:SWEEP_BATCH])
        Delivery.objects.filter(pk__in=[pk for pk, _ in pending_rows]).update(updated_at=now)
        result.notifications_to_route = list(dict.fromkeys(notification_id for _, notification_id in pending_rows))

        _collect(
            result,
            Delivery.objects.filter(
                status=Delivery.Status.QUEUED, updated_at__lt=_ago(now, settings.CLARION_QUEUED_GRACE_SECONDS)
            ),
            now,
        )
        _collect(
            result,
            Delivery.objects.filter(
                status=Delivery.Status.SCHEDULED,
                scheduled_for__lt=_ago(now, settings.CLARION_SCHEDULED_GRACE_SECONDS),
            ),
            now,
            reason="released by the sweeper: its scheduled task was lost",
        )
        # A delivery still `sending` long after its claim belongs to a worker that died
        # mid-call. Re-sending it is the one place a duplicate is possible (DESIGN.md §3.3).
        _collect(
            result,
            Delivery.objects.filter(
                status=Delivery.Status.SENDING, updated_at__lt=_ago(now, settings.CLARION_SENDING_GRACE_SECONDS)
            ),
            now,
            reason="re-sent by the sweeper: its worker was lost mid-send",
        )
    return result


def _collect(result: SweepResult, stuck: QuerySet[Delivery], now: datetime, reason: str | None = None) -> None:
    rows = list(stuck.values_list("pk", "queue")[:SWEEP_BATCH])
    changes: dict[str, object] = {"status": Delivery.Status.QUEUED, "updated_at": now}
    if reason:
        changes["reason"] = reason
    for pk, queue in rows:
        # Re-check the stuck condition in the update itself: the row may have moved on.
        if stuck.filter(pk=pk).update(**changes):
            result.deliveries_to_send[queue].append(pk)
