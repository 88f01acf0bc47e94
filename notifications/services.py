"""Accepting notifications: validate against the database, write, enqueue after commit."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import RedisError

from monitoring.metrics import notifications_accepted_record
from notifications.accept_insert import AcceptedNotification, NewRequest, request_insert
from notifications.lookup_cache import enabled_category
from notifications.models import ApiKey, NotificationRequest, notification_is_critical
from notifications.recipients import recipient_ids_resolve

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
    category = enabled_category(request.category)
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
        notifications = request_insert(
            NewRequest(
                api_key_id=api_key.pk,
                idempotency_key=request.idempotency_key,
                body_hash=request.body_hash,
                category_id=category.pk,
                recipient_ids=recipient_ids,
                data=request.data,
                priority=priority,
                channels=request.channels,
                dedup_key=request.dedup_key,
            )
        )
    except IntegrityError:
        # A concurrent request with the same key committed first.
        replayed = _replay(api_key, request)
        if replayed is None:
            raise
        return replayed
    critical = notification_is_critical(priority, category)
    ids = [n.pk for n in notifications]
    # At once when the insert committed on its own; at the end of a caller's transaction.
    transaction.on_commit(lambda: _pipeline_start_after_commit(ids, critical))
    notifications_accepted_record(category.slug, len(notifications))
    return AcceptResult(created=True, notifications=notifications)


def _pipeline_start_after_commit(notification_ids: list[Any], critical: bool) -> None:
    from delivery.tasks import pipeline_start

    try:
        pipeline_start(notification_ids, critical=critical, gather=True)
    except (BrokerError, OSError, RedisError) as error:
        # The rows are committed; the sweeper enqueues them once the broker is back.
        logger.warning("broker unavailable, %d notifications left for the sweeper: %s", len(notification_ids), error)
