"""Plan: turn accepted notifications into one Delivery per channel, per the policy.

Planning gathers what the policy needs in bulk (preferences, devices, Redis counters and
dedup claims), calls the pure `decide`, and writes the deliveries, plus a DigestItem for
each one folded into a digest. Redis being down never loses a message: planning logs it
and sends as if no cap were full and no key repeated.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from redis.exceptions import RedisError

from config.celery import CRITICAL_QUEUE
from delivery.counters import Counter, DedupClaim, counter_client, counts_read, dedup_claim, sends_reserve
from delivery.models import Delivery, Device
from delivery.routing import deliveries_render
from digests.models import DigestItem
from notifications.models import Category, Notification, OverCapAction
from preferences.caps import Burst, CapLimits
from preferences.models import Preference
from preferences.policy import (
    Action,
    CategoryRule,
    Decision,
    Recipient,
    channels_for,
    counted_windows,
    decide,
    send_time,
)

logger = logging.getLogger(__name__)

STATUS_FOR_ACTION = {
    Action.SEND_NOW: Delivery.Status.PENDING,
    Action.DEFER: Delivery.Status.PENDING,
    Action.DIGEST: Delivery.Status.DIGESTED,
    Action.THROTTLE: Delivery.Status.THROTTLED,
    Action.SKIP: Delivery.Status.SKIPPED,
}
SENDS = (Action.SEND_NOW, Action.DEFER)


def delivery_queue(notification: Notification, channel: str) -> str:
    """Critical notifications never wait behind bulk traffic on the channel queues."""
    if notification.is_critical:
        return CRITICAL_QUEUE
    return channel


def category_rule(category: Category) -> CategoryRule:
    burst = None
    if category.burst_limit is not None:
        burst = Burst(limit=category.burst_limit, window_seconds=category.burst_window_seconds)
    return CategoryRule(
        slug=category.slug,
        required=category.is_required,
        default_channels=tuple(category.default_channels),
        fallbacks=category.fallback_channels or {},
        caps=CapLimits(category.max_per_hour, category.max_per_day),
        burst=burst,
        over_cap=Action.THROTTLE if category.over_cap_action == OverCapAction.DROP else Action.DIGEST,
    )


def reachable_channels(user: AbstractBaseUser, users_with_devices: set[int]) -> frozenset[str]:
    settings = getattr(user, "notification_settings", None)
    reachable = {"in_app"}
    if user.email:
        reachable.add("email")
    if settings is not None and settings.phone_number:
        reachable.add("sms")
    if user.pk in users_with_devices:
        reachable.add("push")
    return frozenset(reachable)


def recipients_load(users: Iterable[AbstractBaseUser], category_ids: set[int]) -> dict[int, Recipient]:
    """The policy's view of each user, from two queries. Users should come with their
    `notification_settings` selected."""
    users = {user.pk: user for user in users}
    preferences: dict[int, dict[tuple[str, str], bool]] = defaultdict(dict)
    caps: dict[int, dict[tuple[str, str], CapLimits]] = defaultdict(dict)
    digest_frequencies: dict[int, dict[tuple[str, str], str]] = defaultdict(dict)
    rows = Preference.objects.filter(user_id__in=users, category_id__in=category_ids).values_list(
        "user_id", "category__slug", "channel", "enabled", "max_per_hour", "max_per_day", "digest_frequency"
    )
    for user_id, slug, channel, enabled, per_hour, per_day, frequency in rows:
        preferences[user_id][(slug, channel)] = enabled
        if per_hour is not None or per_day is not None:
            caps[user_id][(slug, channel)] = CapLimits(per_hour, per_day)
        if frequency:
            digest_frequencies[user_id][(slug, channel)] = frequency
    users_with_devices = set(
        Device.objects.filter(user_id__in=users, active=True).values_list("user_id", flat=True).distinct()
    )
    recipients = {}
    for user_id, user in users.items():
        settings = getattr(user, "notification_settings", None)
        digests = {}
        if settings is not None:
            digests = {key: settings.digest_schedule(freq) for key, freq in digest_frequencies[user_id].items()}
        recipients[user_id] = Recipient(
            preferences=preferences[user_id],
            reachable_channels=reachable_channels(user, users_with_devices),
            muted_channels=frozenset(settings.muted_channels or ()) if settings else frozenset(),
            paused_until=settings.paused_until if settings else None,
            quiet_hours=settings.quiet_hours if settings else None,
            caps=caps[user_id],
            digest=settings.digest_schedule() if settings else None,
            digests=digests,
        )
    return recipients


@dataclass
class _Plan:
    notification: Notification
    rule: CategoryRule
    recipient: Recipient
    channels: tuple[str, ...]
    duplicate_of: str | None
    decisions: list[Decision]


def _candidate_channels(rule: CategoryRule, channels: tuple[str, ...]) -> tuple[str, ...]:
    """The channels a notification may be decided on: its own and their fallbacks."""
    fallbacks = [rule.fallbacks[channel] for channel in channels if channel in rule.fallbacks]
    return tuple(dict.fromkeys([*channels, *fallbacks]))


def _counters(plan: _Plan, channel: str, now: datetime) -> list[Counter]:
    at = send_time(plan.recipient, now)
    n = plan.notification
    return [
        Counter(n.recipient_id, n.category_id, channel, window, at)
        for window in counted_windows(plan.rule, channel, plan.recipient)
    ]


def _duplicates(notifications: list[Notification]) -> dict[UUID, str]:
    claims = [
        (n.pk, DedupClaim(n.recipient_id, n.category_id, n.dedup_key, str(n.pk), n.category.dedup_window_seconds))
        for n in notifications
        if n.dedup_key and n.category.dedup_window_seconds > 0
    ]
    if not claims:
        return {}
    try:
        holders = dedup_claim(counter_client(), [claim for _, claim in claims])
    except (RedisError, OSError) as error:
        logger.warning("Redis unavailable, %d dedup keys not checked: %s", len(claims), error)
        return {}
    return {pk: holder for (pk, claim), holder in zip(claims, holders, strict=True) if holder != claim.notification_id}


def _with_counts(plans: list[_Plan], now: datetime) -> bool:
    """Give each plan's recipient the counts of its capped channels (one MGET); False when
    Redis could not be read, and caps do not apply."""
    wanted = [
        (plan, channel, counter)
        for plan in plans
        for channel in _candidate_channels(plan.rule, plan.channels)
        for counter in _counters(plan, channel, now)
    ]
    if not wanted:
        return True
    try:
        values = counts_read(counter_client(), [counter for _, _, counter in wanted])
    except (RedisError, OSError) as error:
        logger.warning("Redis unavailable, caps not applied to %d notifications: %s", len(plans), error)
        return False
    sent: dict[int, dict[tuple[str, str], dict[int, int]]] = defaultdict(lambda: defaultdict(dict))
    for (plan, channel, counter), value in zip(wanted, values, strict=True):
        sent[id(plan)][(plan.rule.slug, channel)][counter.window.seconds] = value
    for plan in plans:
        if id(plan) in sent:
            plan.recipient = replace(plan.recipient, sent=dict(sent[id(plan)]))
    return True


def _reserve(plans: list[_Plan], now: datetime) -> None:
    """Count the sends decided on; a send whose window filled up meanwhile (another planner,
    or an earlier notification of this batch) is decided again with the counts as found."""
    sends = [
        (plan, index, counters)
        for plan in plans
        for index, decision in enumerate(plan.decisions)
        if decision.action in SENDS and (counters := _counters(plan, decision.channel, now))
    ]
    if not sends:
        return
    try:
        reservations = sends_reserve(counter_client(), [counters for _, _, counters in sends])
    except (RedisError, OSError) as error:
        logger.warning("Redis unavailable, %d sends not counted against caps: %s", len(sends), error)
        return
    for (plan, index, _), reservation in zip(sends, reservations, strict=True):
        if reservation.granted:
            continue
        channel = plan.decisions[index].channel
        sent = {**plan.recipient.sent, (plan.rule.slug, channel): reservation.counts}
        again = decide(plan.rule, plan.channels, replace(plan.recipient, sent=sent), now, plan.duplicate_of)
        plan.decisions[index] = next(d for d in again if d.channel == channel)


def notifications_plan(notification_ids: Sequence[UUID | str], render: bool = False) -> list[UUID]:
    """Create the deliveries of every still-`accepted` notification. Safe to repeat: the
    unique (notification, channel) constraints keep one delivery and one digest item per
    channel.

    The deliveries to send are written `pending`, for `deliveries_route` to render; with
    `render` they are rendered first and written `queued` or `scheduled`, which spares the
    pipeline a second pass over the same rows (delivery/pipeline.py)."""
    # Oldest first: the earlier notification takes the last slot under a cap and holds a dedup key.
    notifications = list(
        Notification.objects.filter(pk__in=notification_ids, status=Notification.Status.ACCEPTED)
        .select_related("category", "recipient", "recipient__notification_settings")
        .order_by("created_at", "pk")
    )
    if not notifications:
        return []
    recipients = recipients_load([n.recipient for n in notifications], {n.category_id for n in notifications})
    rules = {n.category_id: category_rule(n.category) for n in notifications}
    duplicates = _duplicates(notifications)

    now = timezone.now()
    plans = []
    for n in notifications:
        rule = rules[n.category_id]
        plans.append(
            _Plan(n, rule, recipients[n.recipient_id], channels_for(rule, n.channels), duplicates.get(n.pk), [])
        )
    counted = _with_counts(plans, now)
    for plan in plans:
        plan.decisions = decide(plan.rule, plan.channels, plan.recipient, now, plan.duplicate_of)
    if counted:
        _reserve(plans, now)

    deliveries, digest_items = [], []
    for plan in plans:
        n = plan.notification
        for decision in plan.decisions:
            deliveries.append(
                Delivery(
                    notification=n,
                    channel=decision.channel,
                    status=STATUS_FOR_ACTION[decision.action],
                    reason=decision.reason[:500],
                    queue=delivery_queue(n, decision.channel),
                    scheduled_for=decision.defer_until,
                    content={"silent": True} if decision.silent else {},
                )
            )
            if decision.action == Action.DIGEST:
                digest_items.append(
                    DigestItem(
                        user_id=n.recipient_id,
                        category_id=n.category_id,
                        channel=decision.channel,
                        notification=n,
                        due_at=decision.defer_until,
                    )
                )
    if render:
        deliveries_render([d for d in deliveries if d.status == Delivery.Status.PENDING], now)
    planned_ids = [n.pk for n in notifications]
    with transaction.atomic():
        Delivery.objects.bulk_create(deliveries, ignore_conflicts=True)
        if digest_items:
            DigestItem.objects.bulk_create(digest_items, ignore_conflicts=True)
        Notification.objects.filter(pk__in=planned_ids, status=Notification.Status.ACCEPTED).update(
            status=Notification.Status.PLANNED, updated_at=timezone.now()
        )
    return planned_ids
