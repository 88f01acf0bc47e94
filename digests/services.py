"""Flushing due digests: one message per user × category × channel, exactly once.

A flusher takes whole groups of due items (a per-group lock, then the items' rows), so a
second flusher running at the same time skips those groups instead of sending them again,
or a part of one as a second digest; it creates the
digest's Notification and Delivery, marks the items flushed, and commits before anything
is published. The delivery is then sent like any other (`queued` on its channel queue, or
`scheduled` when quiet hours or a pause hold it), and the sweeper recovers it if the
publish is lost.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from delivery.models import Delivery, Device
from delivery.planning import category_rule, recipients_load
from delivery.routing import channel_address, email_with_unsubscribe_link
from digests.models import DigestItem
from digests.rendering import ITEMS_SHOWN, digest_context, digest_render, digest_template_for, item_titles
from notifications.models import Notification, Priority
from notifications.rendering import RenderError
from preferences.policy import Action, Decision, decide_single

FLUSH_BATCH = 2000
DEFAULT_LOCALE = "en"

GroupKey = tuple[int, int, str]  # user, category, channel


@dataclass
class FlushResult:
    """What the caller publishes after commit."""

    to_send: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    to_schedule: list[tuple[int, datetime]] = field(default_factory=list)
    digests: int = 0
    more: bool = False  # the batch was full: flush again


def _group_lock(key: GroupKey) -> bool:
    """Take this digest group for the current transaction, or learn another flusher has it.

    Row locks alone are not enough: two flushers skipping each other's locked rows would
    each take part of one group and send it as two digests. On PostgreSQL a transaction
    advisory lock per group decides; SQLite runs one write transaction at a time anyway.
    """
    if connection.vendor != "postgresql":
        return True
    digest = hashlib.blake2b(repr(key).encode(), digest_size=8).digest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [int.from_bytes(digest, "big", signed=True)])
        return bool(cursor.fetchone()[0])


def _lock_due(now: datetime) -> tuple[dict[GroupKey, list[DigestItem]], bool]:
    """Whole groups of due items, up to FLUSH_BATCH items (at least one group), skipping the
    groups another flusher holds. Returns them and whether more are due."""
    due = DigestItem.objects.filter(flushed_at__isnull=True, due_at__lte=now)
    candidates = (
        due.values_list("user_id", "category_id", "channel")
        .annotate(items=Count("pk"))
        .order_by("user_id", "category_id", "channel")
    )
    taken: list[GroupKey] = []
    size, more = 0, False
    for user_id, category_id, channel, count in candidates.iterator():
        if taken and size + count > FLUSH_BATCH:
            more = True
            break
        key = (user_id, category_id, channel)
        if _group_lock(key):
            taken.append(key)
            size += count
    groups: dict[GroupKey, list[DigestItem]] = defaultdict(list)
    if not taken:
        return groups, more
    selector = Q()
    for user_id, category_id, channel in taken:
        selector |= Q(user_id=user_id, category_id=category_id, channel=channel)
    items = (
        due.filter(selector)
        .select_for_update(of=("self",))
        .select_related("category", "notification", "user__notification_settings")
        .order_by("user_id", "category_id", "channel", "created_at", "pk")
    )
    for item in items:
        groups[(item.user_id, item.category_id, item.channel)].append(item)
    return groups, more


def _render(items: list[DigestItem], locale: str) -> dict[str, str]:
    first = items[0]
    user, category, channel = first.user, first.category, first.channel
    recipient = {"name": user.get_full_name() or user.get_username(), "username": user.get_username()}
    recipient["email"] = user.email
    shown = items[:ITEMS_SHOWN]
    titles = item_titles(category, channel, locale, [item.notification.data for item in shown], recipient)
    context_items = [
        {"title": title, "data": item.notification.data, "created_at": item.created_at.isoformat()}
        for item, title in zip(shown, titles, strict=True)
    ]
    template = digest_template_for(category, channel, locale)
    return digest_render(template, digest_context(category, len(items), context_items, recipient))


def _digest_delivery(digest: Notification, items: list[DigestItem], decision: Decision, tokens: list[str]) -> Delivery:
    user, channel = digest.recipient, decision.channel
    delivery = Delivery(
        notification=digest,
        channel=channel,
        queue=channel,
        reason=f"digest of {len(items)} notifications: {decision.reason}"[:500],
        status=Delivery.Status.SKIPPED,
    )
    if decision.action == Action.SKIP:
        return delivery
    settings = getattr(user, "notification_settings", None)
    try:
        parts = _render(items, settings.locale if settings else DEFAULT_LOCALE)
    except RenderError as error:
        delivery.status = Delivery.Status.FAILED
        delivery.reason = f"digest template error in {error.field}: {error.message}"[:500]
        return delivery
    delivery.content = {**parts, "to": channel_address(user, channel, tokens)}
    if channel == "email":  # required categories are never digested, so every digest may be unsubscribed from
        delivery.content = email_with_unsubscribe_link(delivery.content, user.pk, digest.category)
    if channel == "push":
        delivery.content["tokens"] = tokens
    if decision.action == Action.DEFER:
        delivery.status = Delivery.Status.SCHEDULED
        delivery.scheduled_for = decision.defer_until
    else:
        delivery.status = Delivery.Status.QUEUED
    return delivery


def digest_flush(now: datetime | None = None) -> FlushResult:
    """Send every digest due by `now`, one batch of items at a time (`more` asks for another)."""
    now = now or timezone.now()
    result = FlushResult()
    with transaction.atomic():
        groups, result.more = _lock_due(now)
        if not groups:
            return result
        users = {items[0].user_id: items[0].user for items in groups.values()}
        recipients = recipients_load(users.values(), {category_id for _, category_id, _ in groups})
        tokens: dict[int, list[str]] = defaultdict(list)
        push_users = [user_id for user_id, _, channel in groups if channel == "push"]
        for user_id, token in Device.objects.filter(user_id__in=push_users, active=True).values_list(
            "user_id", "token"
        ):
            tokens[user_id].append(token)

        digests, deliveries, flushed = [], [], []
        for (user_id, _, channel), items in groups.items():
            category = items[0].category
            decision = decide_single(category_rule(category), channel, recipients[user_id], now)
            # A digest belongs to no API call of its own; it hangs off the latest item's.
            digest = Notification(
                request_id=items[-1].notification.request_id,
                category=category,
                recipient=users[user_id],
                data={"digest": {"count": len(items)}},
                priority=Priority.NORMAL,
                channels=[channel],
                status=Notification.Status.PLANNED,
            )
            digests.append(digest)
            deliveries.append(_digest_delivery(digest, items, decision, tokens[user_id]))
            for item in items:
                item.flushed_at, item.digest = now, digest
            flushed += items
        Notification.objects.bulk_create(digests)
        Delivery.objects.bulk_create(deliveries)
        DigestItem.objects.bulk_update(flushed, ["flushed_at", "digest"])
    for delivery in deliveries:
        if delivery.status == Delivery.Status.QUEUED:
            result.to_send[delivery.queue].append(delivery.pk)
        elif delivery.status == Delivery.Status.SCHEDULED:
            result.to_schedule.append((delivery.pk, delivery.scheduled_for))
    result.digests = len(digests)
    return result
