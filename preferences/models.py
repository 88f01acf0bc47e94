"""What each end user wants: their settings and per category × channel choices."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models

from notifications.channels import Channel
from notifications.models import Category
from preferences.digest_schedule import DAILY, HOURLY, OFF, WEEKLY, DigestSchedule, digest_schedule
from preferences.quiet_hours import QuietHours


class DigestFrequency(models.TextChoices):
    OFF = OFF, "Off: send each message"
    HOURLY = HOURLY, "Hourly"
    DAILY = DAILY, "Daily at the digest hour"
    WEEKLY = WEEKLY, "Weekly on the digest day and hour"


def _every_day() -> list[int]:
    return list(range(7))


class NotificationSettings(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_settings"
    )
    timezone = models.CharField(max_length=64, default="UTC", help_text="IANA zone, e.g. Europe/Paris.")
    locale = models.CharField(max_length=10, default="en")
    phone_number = models.CharField(max_length=20, blank=True, help_text="E.164, e.g. +14155550100.")
    quiet_hours_start = models.TimeField(null=True, blank=True, help_text="Local time; empty for no quiet hours.")
    quiet_hours_end = models.TimeField(null=True, blank=True, help_text="Local time; before the start wraps midnight.")
    quiet_hours_days = models.JSONField(
        default=_every_day, blank=True, help_text="Weekdays (0 = Monday) on which a quiet window starts."
    )
    muted_channels = models.JSONField(default=list, blank=True, help_text="Channels muted for every category.")
    paused_until = models.DateTimeField(null=True, blank=True, help_text="Nothing but required categories until then.")
    digest_frequency = models.CharField(
        max_length=10,
        choices=DigestFrequency.choices,
        default=DigestFrequency.OFF,
        help_text="For every category not set otherwise; required categories are never digested.",
    )
    digest_hour = models.PositiveSmallIntegerField(
        default=8, validators=[MaxValueValidator(23)], help_text="Local hour of daily and weekly digests."
    )
    digest_weekday = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(6)], help_text="Day of weekly digests (0 = Monday)."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "notification settings"
        verbose_name_plural = "notification settings"

    def __str__(self) -> str:
        return f"settings of {self.user_id}"

    @property
    def quiet_hours(self) -> QuietHours | None:
        if self.quiet_hours_start is None or self.quiet_hours_end is None:
            return None
        return QuietHours(
            start=self.quiet_hours_start,
            end=self.quiet_hours_end,
            timezone=self.timezone,
            days=frozenset(self.quiet_hours_days or ()),
        )

    def digest_schedule(self, frequency: str | None = None) -> DigestSchedule | None:
        """The user's digest schedule at `frequency` (their default when None)."""
        return digest_schedule(
            frequency if frequency is not None else self.digest_frequency,
            self.timezone,
            self.digest_hour,
            self.digest_weekday,
        )


class Preference(models.Model):
    """An explicit choice; no row means the category's default (on)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="preferences")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    enabled = models.BooleanField(default=True)
    digest_frequency = models.CharField(
        max_length=10, choices=DigestFrequency.choices, blank=True, help_text="Empty: the user's default."
    )
    max_per_hour = models.PositiveIntegerField(
        null=True, blank=True, help_text="The user's own cap; it can only lower the category's."
    )
    max_per_day = models.PositiveIntegerField(
        null=True, blank=True, help_text="The user's own cap; it can only lower the category's."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "category", "channel"], name="unique_preference"),
        ]

    def __str__(self) -> str:
        state = "on" if self.enabled else "off"
        return f"{self.user_id} {self.category_id}/{self.channel}: {state}"
