"""Accepting notifications: validate against the database, write, enqueue after commit."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import RedisError

from monitoring.metrics import notifications_accepted_record
from notifications.accept_insert import AcceptedNotification, NewNotifications, notifications_insert
from notifications.models import ApiKey, Category, NotificationRequest, notification_is_critical

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AcceptRequest:
    category: str
    recipients: list[str]
    data: dict[str, Any] = field(default_factory=dict)
    priority: str | None = None
    channels: list[str] = field(default_factory=list)
    idempotency_key: str | None = None
    body_hash: str = ""
    dedup_key: str = ""


@dataclass(frozen=True)
class AcceptResult:
    created: bool
    notifications: list[AcceptedNotification]


class AcceptError(Exception):
    def __init__(self, status: int, code: str, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or {}


def body_hash(body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def recipient_ids_resolve(tokens: list[str]) -> tuple[list[int], list[str]]:
    """Map ids, usernames and emails to active users' ids, in order, without duplicates.

    Returns (user ids, unknown tokens). An email shared by several users resolves to the
    oldest account.
    """
    user_model = get_user_model()
    # isascii: str.isdigit() also accepts digits such as "²" that int() refuses.
    ids = {int(t) for t in tokens if t.isascii() and t.isdigit() and len(t) < 19}
    emails = {t.lower() for t in tokens if "@" in t}
    names = {t for t in tokens if "@" not in t}
    by_id: dict[str, int] = {}
    by_name: dict[str, int] = {}
    by_email: dict[str, int] = {}
    active = user_model.objects.filter(is_active=True)
    if ids:
        by_id = {str(pk): pk for pk in active.filter(pk__in=ids).values_list("pk", flat=True)}
    if names:
        username = user_model.USERNAME_FIELD
        by_name = dict(active.filter(**{f"{username}__in": names}).values_list(username, "pk"))
    if emails:
        by_email = dict(
            active.annotate(email_lower=Lower("email"))
            .filter(email_lower__in=emails)
            .order_by("-pk")
            .values_list("email_lower", "pk")
        )
    found: dict[int, None] = {}
    unknown: list[str] = []
    for token in tokens:
        pk = by_id.get(token) or by_name.get(token) or by_email.get(token.lower())
        if pk is None:
            unknown.append(token)
        else:
            found.setdefault(pk)
    return list(found), unknown


def recipients_resolve(tokens: list[str]) -> tuple[list[AbstractBaseUser], list[str]]:
    """As recipient_ids_resolve, with the users themselves."""
    ids, unknown = recipient_ids_resolve(tokens)
    users = get_user_model().objects.in_bulk(ids)
    return [users[pk] for pk in ids], unknown


def _replay(api_key: ApiKey, request: AcceptRequest) -> AcceptResult | None:
    if not request.idempotency_key:
        return None
    original = NotificationRequest.objects.filter(api_key=api_key, idempotency_key=request.idempotency_key).first()
    if original is None:
        return None
    if original.body_hash != request.body_hash:
        raise AcceptError(
            409,
            "idempotency_key_reused",
            "This idempotency key was used with a different body.",
            {"idempotency_key": "Already used with a different body; use a new key for a new request."},
        )
    rows = original.notifications.order_by("created_at", "pk").values_list("pk", "recipient_id", "status")
    return AcceptResult(
        created=False,
        notifications=[AcceptedNotification(pk=pk, recipient_id=user, status=status) for pk, user, status in rows],
    )


def notification_accept(api_key: ApiKey, request: AcceptRequest) -> AcceptResult:
    """Write one notification per recipient in one transaction; the pipeline starts after
    commit. A repeated idempotency key returns the original notifications."""
    replayed = _replay(api_key, request)
    if replayed is not None:
        return replayed
    category = Category.objects.filter(slug=request.category, enabled=True).first()
    if category is None:
        raise AcceptError(
            400, "unknown_category", f"No enabled category '{request.category}'.", {"category": "Unknown category."}
        )
    recipient_ids, unknown = recipient_ids_resolve(request.recipients)
    if unknown:
        shown = ", ".join(unknown[:20]) + (f" and {len(unknown) - 20} more" if len(unknown) > 20 else "")
        raise AcceptError(
            400, "unknown_recipients", f"Unknown recipients: {shown}.", {"recipients": f"Unknown: {shown}"}
        )

    priority = request.priority or category.priority
    try:
        with transaction.atomic():
            accepted = NotificationRequest.objects.create(
                api_key=api_key, idempotency_key=request.idempotency_key, body_hash=request.body_hash
            )
            notifications = notifications_insert(
                NewNotifications(
                    request_id=accepted.pk,
                    category_id=category.pk,
                    recipient_ids=recipient_ids,
                    data=request.data,
                    priority=priority,
                    channels=request.channels,
                    dedup_key=request.dedup_key,
                )
            )
            critical = notification_is_critical(priority, category)
            ids = [n.pk for n in notifications]
            transaction.on_commit(lambda: _pipeline_start_after_commit(ids, critical))
    except IntegrityError:
        # A concurrent request with the same key committed first.
        replayed = _replay(api_key, request)
        if replayed is None:
            raise
        return replayed
    notifications_accepted_record(category.slug, len(notifications))
    return AcceptResult(created=True, notifications=notifications)


def _pipeline_start_after_commit(notification_ids: list[Any], critical: bool) -> None:
    from delivery.tasks import pipeline_start

    try:
        pipeline_start(notification_ids, critical=critical, gather=True)
    except (BrokerError, OSError, RedisError) as error:
        # The rows are committed; the sweeper enqueues them once the broker is back.
        logger.warning("broker unavailable, %d notifications left for the sweeper: %s", len(notification_ids), error)
