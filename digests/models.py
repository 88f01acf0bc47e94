"""Digests: messages folded away by a digest schedule, a cap or a burst, and the templates
that summarise them when they go out."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from notifications.channels import Channel
from notifications.models import Category, Notification


class DigestTemplate(models.Model):
    """How one category's digest reads on one channel. The context is `count` (messages in
    the digest), `items` (the first few: each with `title`, `data` and `created_at`), `more`
    (how many are not shown), `category` (`slug`, `name`) and `recipient`."""

    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="digest_templates")
    channel = models.CharField(
        max_length=10,
        choices=[choice for choice in Channel.choices if choice[0] != Channel.IN_APP],
        help_text="In-app items are never digested: the inbox lists each one.",
    )
    locale = models.CharField(max_length=10, default="en")
    subject = models.CharField(max_length=500, blank=True)
    title = models.CharField(max_length=500, blank=True)
    body = models.TextField(blank=True)
    html_body = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["category", "channel", "locale"], name="unique_digest_template_per_locale"),
        ]
        ordering = ["category__slug", "channel", "locale"]

    def __str__(self) -> str:
        return f"{self.category_id and self.category.slug}/{self.channel}/{self.locale} digest"

    def clean(self) -> None:
        from digests.rendering import digest_template_validate

        digest_template_validate(self)


class DigestItem(models.Model):
    """One delivery folded into a digest; `flushed_at` and `digest` say which digest sent it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="digest_items")
    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="digest_items")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="digest_items")
    created_at = models.DateTimeField(auto_now_add=True)
    due_at = models.DateTimeField(help_text="When the digest it joined goes out.")
    flushed_at = models.DateTimeField(null=True, blank=True)
    digest = models.ForeignKey(
        Notification,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="digested_items",
        help_text="The digest notification that carried it.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["notification", "channel"], name="unique_digest_item_per_delivery"),
        ]
        indexes = [
            models.Index(fields=["due_at"], name="digest_item_due", condition=models.Q(flushed_at__isnull=True)),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.channel} digest item for {self.user_id} ({self.category_id and self.category.slug})"
