"""Digest items as planning leaves them, for tests that start at the flush."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from delivery.models import Delivery
from digests.models import DigestItem
from tests import factories


def fold(category, recipient, count: int, channel: str = "email", due_in: timedelta = timedelta(minutes=-1)):
    """`count` notifications folded into `recipient`'s digest on `channel`, due `due_in` from now."""
    due_at = timezone.now() + due_in
    items = []
    for index in range(count):
        notification = factories.NotificationFactory(
            category=category, recipient=recipient, data={"name": f"reply {index + 1}"}, status="planned"
        )
        Delivery.objects.create(notification=notification, channel=channel, status=Delivery.Status.DIGESTED)
        items.append(
            DigestItem.objects.create(
                user=recipient, category=category, channel=channel, notification=notification, due_at=due_at
            )
        )
    return items


def digest_deliveries():
    """The deliveries of digest notifications."""
    return Delivery.objects.filter(notification__data__has_key="digest").select_related("notification")
