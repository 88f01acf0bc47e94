"""Cross-channel fallback after a failure: when a channel fails for good, the category's
fallback channel for it (e.g. push → in-app) gets a delivery of its own, once."""

from __future__ import annotations

from uuid import UUID

from django.utils import timezone

from delivery.models import Delivery
from delivery.planning import category_rule, delivery_queue, recipients_load
from preferences.policy import Action, decide_single


def fallback_after_failure(delivery_id: int) -> UUID | None:
    """Plan the fallback channel of a failed delivery, if its category names one and the
    notification has no delivery on that channel yet. Returns the notification to route."""
    delivery = Delivery.objects.select_related(
        "notification__category", "notification__recipient__notification_settings"
    ).get(pk=delivery_id)
    notification = delivery.notification
    fallback = (notification.category.fallback_channels or {}).get(delivery.channel)
    if delivery.status != Delivery.Status.FAILED or not fallback:
        return None
    recipient = recipients_load([notification.recipient], {notification.category_id})[notification.recipient_id]
    decision = decide_single(category_rule(notification.category), fallback, recipient, timezone.now())
    planned = decision.action in (Action.SEND_NOW, Action.DEFER)
    _, created = Delivery.objects.get_or_create(
        notification=notification,
        channel=fallback,
        defaults={
            "status": Delivery.Status.PENDING if planned else Delivery.Status.SKIPPED,
            "reason": f"fallback after {delivery.channel} failed: {decision.reason}"[:500],
            "queue": delivery_queue(notification, fallback),
            "scheduled_for": decision.defer_until,
            "content": {"silent": True} if decision.silent else {},
        },
    )
    return notification.pk if created and planned else None
