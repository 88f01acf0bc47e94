"""Plan: turn accepted notifications into one Delivery per channel, per the policy."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from config.celery import CRITICAL_QUEUE
from delivery.models import Delivery, Device
from notifications.models import Notification
from preferences.models import Preference
from preferences.policy import Action, CategoryRule, Recipient, channels_for, decide


def delivery_queue(notification: Notification, channel: str) -> str:
    """Critical notifications never wait behind bulk traffic on the channel queues."""
    if notification.is_critical:
        return CRITICAL_QUEUE
    return channel


def _reachable_channels(notification: Notification, users_with_devices: set[int]) -> frozenset[str]:
    user = notification.recipient
    settings = getattr(user, "notification_settings", None)
    reachable = {"in_app"}
    if user.email:
        reachable.add("email")
    if settings is not None and settings.phone_number:
        reachable.add("sms")
    if user.pk in users_with_devices:
        reachable.add("push")
    return frozenset(reachable)


def notifications_plan(notification_ids: Sequence[UUID | str]) -> list[UUID]:
    """Create the deliveries of every still-`accepted` notification. Safe to repeat: the
    unique (notification, channel) constraint keeps one delivery per channel."""
    notifications = list(
        Notification.objects.filter(pk__in=notification_ids, status=Notification.Status.ACCEPTED).select_related(
            "category", "recipient", "recipient__notification_settings"
        )
    )
    if not notifications:
        return []
    user_ids = {n.recipient_id for n in notifications}
    preferences: dict[int, dict[tuple[str, str], bool]] = defaultdict(dict)
    for user_id, slug, channel, enabled in Preference.objects.filter(
        user_id__in=user_ids, category_id__in={n.category_id for n in notifications}
    ).values_list("user_id", "category__slug", "channel", "enabled"):
        preferences[user_id][(slug, channel)] = enabled
    users_with_devices = set(
        Device.objects.filter(user_id__in=user_ids, active=True).values_list("user_id", flat=True).distinct()
    )

    now = timezone.now()
    deliveries = []
    for notification in notifications:
        category = notification.category
        rule = CategoryRule(
            slug=category.slug,
            required=category.is_required,
            default_channels=tuple(category.default_channels),
            fallbacks=category.fallback_channels or {},
        )
        user_settings = getattr(notification.recipient, "notification_settings", None)
        recipient = Recipient(
            preferences=preferences[notification.recipient_id],
            reachable_channels=_reachable_channels(notification, users_with_devices),
            muted_channels=frozenset(user_settings.muted_channels or ()) if user_settings else frozenset(),
            paused_until=user_settings.paused_until if user_settings else None,
            quiet_hours=user_settings.quiet_hours if user_settings else None,
        )
        for decision in decide(rule, channels_for(rule, notification.channels), recipient, now):
            planned = decision.action in (Action.SEND_NOW, Action.DEFER)
            deliveries.append(
                Delivery(
                    notification=notification,
                    channel=decision.channel,
                    status=Delivery.Status.PENDING if planned else Delivery.Status.SKIPPED,
                    reason=decision.reason,
                    queue=delivery_queue(notification, decision.channel),
                    scheduled_for=decision.defer_until,
                    content={"silent": True} if decision.silent else {},
                )
            )
    planned_ids = [n.pk for n in notifications]
    with transaction.atomic():
        Delivery.objects.bulk_create(deliveries, ignore_conflicts=True)
        Notification.objects.filter(pk__in=planned_ids, status=Notification.Status.ACCEPTED).update(
            status=Notification.Status.PLANNED, updated_at=timezone.now()
        )
    return planned_ids
