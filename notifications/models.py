"""What apps ask Clarion to send: categories, their templates, and the notifications."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models

from notifications.channels import ALL_CHANNELS, Channel


def _default_channels() -> list[str]:
    return list(ALL_CHANNELS)


class Priority(models.TextChoices):
    HIGH = "high", "High"
    NORMAL = "normal", "Normal"
    LOW = "low", "Low"


class OverCapAction(models.TextChoices):
    DIGEST = "digest", "Fold into a digest"
    DROP = "drop", "Drop (throttled)"


class Category(models.Model):
    class Kind(models.TextChoices):
        TRANSACTIONAL = "transactional", "Transactional"
        SECURITY = "security", "Security"
        SOCIAL = "social", "Social"
        MARKETING = "marketing", "Marketing"
        SYSTEM = "system", "System"

    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.TRANSACTIONAL)
    default_channels = models.JSONField(default=_default_channels, help_text="Channels used when a request names none.")
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    required = models.BooleanField(
        default=False, help_text="Always sent: bypasses opt-outs, mutes, pauses and quiet hours (security is always)."
    )
    fallback_channels = models.JSONField(
        default=dict,
        blank=True,
        help_text='Channel to use when another cannot reach the user or fails for good, e.g. {"push": "in_app"}.',
    )
    max_per_hour = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most messages per user and channel in a clock hour; empty for no cap."
    )
    max_per_day = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most messages per user and channel in a UTC day; empty for no cap."
    )
    over_cap_action = models.CharField(
        max_length=10,
        choices=OverCapAction.choices,
        default=OverCapAction.DIGEST,
        help_text="What happens to a message over a cap. Required categories are never capped.",
    )
    burst_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="More than this many to one user and channel within the burst window fold into one digest.",
    )
    burst_window_seconds = models.PositiveIntegerField(default=300, validators=[MinValueValidator(1)])
    dedup_window_seconds = models.PositiveIntegerField(
        default=3600,
        help_text="A request repeating a dedup_key for the same recipient within this many seconds is skipped; "
        "0 turns deduplication off.",
    )
    enabled = models.BooleanField(default=True)
    sample_data = models.JSONField(default=dict, blank=True, help_text="Data used to validate and preview templates.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "categories"
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    def clean(self) -> None:
        unknown = sorted(set(self.default_channels or []) - set(ALL_CHANNELS))
        if not isinstance(self.default_channels, list) or unknown:
            raise ValidationError({"default_channels": f"Unknown channels: {', '.join(unknown) or 'not a list'}"})
        fallbacks = self.fallback_channels
        names = [*fallbacks, *fallbacks.values()] if isinstance(fallbacks, dict) else [None]
        if not all(isinstance(name, str) and name in ALL_CHANNELS for name in names):
            raise ValidationError({"fallback_channels": 'A mapping of channels, e.g. {"push": "in_app"}.'})
        if any(primary == fallback for primary, fallback in fallbacks.items()):
            raise ValidationError({"fallback_channels": "A channel cannot fall back to itself."})
        if not isinstance(self.sample_data, dict):
            raise ValidationError({"sample_data": "Sample data must be a JSON object."})

    @property
    def is_critical(self) -> bool:
        return self.kind == self.Kind.SECURITY

    @property
    def is_required(self) -> bool:
        return self.required or self.is_critical


class Template(models.Model):
    """One category's message for one channel and locale.

    Fields a channel does not use stay empty: email uses subject, body (text) and
    html_body; SMS uses body; push uses title and body; in-app uses title, body and
    action_url.
    """

    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="templates")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    locale = models.CharField(max_length=10, default="en")
    subject = models.CharField(max_length=500, blank=True)
    title = models.CharField(max_length=500, blank=True)
    body = models.TextField(blank=True)
    html_body = models.TextField(blank=True)
    action_url = models.CharField(max_length=1000, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["category", "channel", "locale"], name="unique_template_per_locale"),
        ]
        ordering = ["category__slug", "channel", "locale"]

    def __str__(self) -> str:
        return f"{self.category_id and self.category.slug}/{self.channel}/{self.locale}"

    def clean(self) -> None:
        from notifications.rendering import template_validate

        template_validate(self)


class TemplateVersion(models.Model):
    """A saved state of a template's text, kept so that an earlier one can be restored.

    The admin records one each time a template's text changes (restoring records one too),
    numbered from 1 per template.
    """

    CONTENT_FIELDS = ("subject", "title", "body", "html_body", "action_url")

    template = models.ForeignKey(Template, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    subject = models.CharField(max_length=500, blank=True)
    title = models.CharField(max_length=500, blank=True)
    body = models.TextField(blank=True)
    html_body = models.TextField(blank=True)
    action_url = models.CharField(max_length=1000, blank=True)
    note = models.CharField(max_length=200, blank=True, help_text='How it came about, e.g. "restored version 3".')
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["template", "number"], name="unique_template_version_number"),
        ]
        ordering = ["template", "-number"]

    def __str__(self) -> str:
        return f"{self.template} v{self.number}"

    def content(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in self.CONTENT_FIELDS}


class ApiKey(models.Model):
    """A credential for one calling app. Only a hash of the key is stored."""

    name = models.CharField(max_length=200)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class NotificationRequest(models.Model):
    """One accepted API call; it holds the idempotency key for all the notifications it made."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.PROTECT, related_name="requests")
    # NULL, not "", for "no key": NULLs never collide in the unique constraint below.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    body_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "idempotency_key"], name="unique_idempotency_key_per_api_key"),
        ]

    def __str__(self) -> str:
        return f"request {self.pk} ({self.idempotency_key or 'no key'})"


class Notification(models.Model):
    class Status(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        PLANNED = "planned", "Planned"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request = models.ForeignKey(NotificationRequest, on_delete=models.CASCADE, related_name="notifications")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="notifications")
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    data = models.JSONField(default=dict, blank=True)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    channels = models.JSONField(
        default=list, blank=True, help_text="Channels the request asked for; empty means the category's."
    )
    dedup_key = models.CharField(
        max_length=255, blank=True, help_text="Repeats for the same recipient and category within its window collapse."
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACCEPTED)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["status", "updated_at"], name="notification_status_age")]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.category_id and self.category.slug} → {self.recipient_id}"

    @property
    def is_critical(self) -> bool:
        return notification_is_critical(self.priority, self.category)


def notification_is_critical(priority: str, category: Category) -> bool:
    """Critical notifications take the queues bulk traffic cannot delay."""
    return priority == Priority.HIGH or category.is_critical


class InboxItem(models.Model):
    """An in-app message as the user's inbox shows it.

    Seen means it was shown in the feed, read that the user opened it, archived that it left
    the feed; the three are independent timestamps so "mark unread" and "unarchive" work.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="inbox_items")
    notification = models.OneToOneField(Notification, on_delete=models.CASCADE, related_name="inbox_item")
    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="+")
    title = models.CharField(max_length=500)
    body = models.TextField(blank=True)
    action_url = models.CharField(max_length=1000, blank=True)
    data = models.JSONField(default=dict, blank=True, help_text="The notification's data, for the app's front end.")
    created_at = models.DateTimeField(auto_now_add=True)
    seen_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # The feed pages by (created_at, id) descending; the partial indexes serve the
        # default feed (not archived) and the unread filter and badge.
        indexes = [
            models.Index(fields=["user", "-created_at", "-id"], name="inbox_user_recent"),
            models.Index(
                fields=["user", "-created_at", "-id"],
                name="inbox_user_active",
                condition=models.Q(archived_at__isnull=True),
            ),
            models.Index(
                fields=["user", "-created_at", "-id"],
                name="inbox_user_unread",
                condition=models.Q(read_at__isnull=True, archived_at__isnull=True),
            ),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title
