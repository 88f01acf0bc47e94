"""What each end user wants: their settings and per category × channel choices."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from notifications.channels import Channel
from notifications.models import Category


class NotificationSettings(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_settings"
    )
    timezone = models.CharField(max_length=64, default="UTC", help_text="IANA zone, e.g. Europe/Paris.")
    locale = models.CharField(max_length=10, default="en")
    phone_number = models.CharField(max_length=20, blank=True, help_text="E.164, e.g. +14155550100.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "notification settings"
        verbose_name_plural = "notification settings"

    def __str__(self) -> str:
        return f"settings of {self.user_id}"


class Preference(models.Model):
    """An explicit choice; no row means the category's default (on)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="preferences")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "category", "channel"], name="unique_preference"),
        ]

    def __str__(self) -> str:
        state = "on" if self.enabled else "off"
        return f"{self.user_id} {self.category_id}/{self.channel}: {state}"
