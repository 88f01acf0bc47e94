"""Reads for the notifications API."""

from __future__ import annotations

from uuid import UUID

from django.db.models import Prefetch

from delivery.models import Delivery, DeliveryAttempt
from notifications.models import ApiKey, Notification


def notification_get_for_api_key(api_key: ApiKey, notification_id: UUID) -> Notification | None:
    """A notification, with its deliveries and attempts, if this key created it."""
    return (
        Notification.objects.filter(pk=notification_id, request__api_key=api_key)
        .select_related("category")
        .prefetch_related(
            Prefetch(
                "deliveries",
                queryset=Delivery.objects.order_by("channel").prefetch_related(
                    Prefetch("attempts", queryset=DeliveryAttempt.objects.order_by("started_at"))
                ),
            )
        )
        .first()
    )
