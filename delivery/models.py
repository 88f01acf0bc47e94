"""The delivery log: one Delivery per notification × channel, and every attempt at it."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from notifications.channels import Channel
from notifications.models import Notification


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SCHEDULED = "scheduled", "Scheduled"
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"
        THROTTLED = "throttled", "Throttled"
        DIGESTED = "digested", "Digested"

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(max_length=500, blank=True)
    queue = models.CharField(max_length=30, blank=True)
    content = models.JSONField(default=dict, blank=True, help_text="The rendered message.")
    provider = models.CharField(max_length=30, blank=True)
    provider_index = models.PositiveSmallIntegerField(default=0, help_text="Position in the channel's provider chain.")
    provider_attempts = models.PositiveSmallIntegerField(default=0, help_text="Attempts on the current provider.")
    provider_message_id = models.CharField(max_length=255, blank=True)
    scheduled_for = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the current send was claimed; only that claimant may record its result."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["notification", "channel"], name="unique_delivery_per_channel"),
        ]
        indexes = [models.Index(fields=["status", "updated_at"], name="delivery_status_age")]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.channel} for {self.notification_id} ({self.status})"


FINAL_STATUSES = frozenset(
    {
        Delivery.Status.SENT,
        Delivery.Status.DELIVERED,
        Delivery.Status.FAILED,
        Delivery.Status.SKIPPED,
        Delivery.Status.THROTTLED,
        Delivery.Status.DIGESTED,
    }
)


class DeliveryAttempt(models.Model):
    class Outcome(models.TextChoices):
        DELIVERED = "delivered", "Delivered"
        RETRYABLE = "retryable", "Retryable"
        PERMANENT = "permanent", "Permanent"

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    provider = models.CharField(max_length=30)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    error_code = models.CharField(max_length=100, blank=True)
    error_message = models.TextField(blank=True)
    provider_message_id = models.CharField(max_length=255, blank=True)
    sms_encoding = models.CharField(max_length=10, blank=True, help_text="GSM-7 or UCS-2, for SMS.")
    sms_segments = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Billed parts, for SMS.")
    note = models.CharField(
        max_length=200, blank=True, help_text="Why this provider took the attempt, when an earlier one was passed over."
    )

    class Meta:
        ordering = ["started_at"]

    def __str__(self) -> str:
        return f"{self.provider}: {self.outcome}"


class Device(models.Model):
    class Platform(models.TextChoices):
        IOS = "ios", "iOS"
        ANDROID = "android", "Android"
        WEB = "web", "Web"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="devices")
    token = models.CharField(max_length=512, unique=True)
    platform = models.CharField(max_length=10, choices=Platform.choices)
    active = models.BooleanField(default=True)
    last_seen_at = models.DateTimeField(auto_now=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.platform} device of {self.user_id}"


class OutboxMessage(models.Model):
    """What the development `outbox` provider 'sent', kept for the admin to show."""

    channel = models.CharField(max_length=10, choices=Channel.choices)
    reference = models.CharField(max_length=100, db_index=True, help_text="The delivery id.")
    to = models.CharField(max_length=4096)
    subject = models.CharField(max_length=500, blank=True)
    body = models.TextField(blank=True)
    html_body = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.channel} to {self.to}"


class ProviderHealth(models.Model):
    """A provider's circuit breaker as of its last change, written by the worker that changed
    it. The live state is in Redis (`delivery.breaker_store`); this row is for operators."""

    class State(models.TextChoices):
        CLOSED = "closed", "Closed"
        OPEN = "open", "Open"
        HALF_OPEN = "half_open", "Half-open (probing)"

    provider = models.CharField(max_length=30, unique=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.CLOSED)
    weight = models.PositiveSmallIntegerField(
        default=100, help_text="Percent of the traffic reaching it that the provider takes; the rest goes on."
    )
    successes = models.PositiveIntegerField(default=0, help_text="Successes in the rolling window at the change.")
    failures = models.PositiveIntegerField(default=0, help_text="Failures in the rolling window at the change.")
    detail = models.CharField(max_length=200, blank=True)
    changed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "provider health"
        ordering = ["provider"]

    def __str__(self) -> str:
        return f"{self.provider}: {self.state}"
