"""Reads of a user's notification settings and preferences, as one plain snapshot."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time

from django.contrib.auth.models import AbstractBaseUser

from notifications.channels import ALL_CHANNELS
from notifications.models import Category
from preferences.models import NotificationSettings, Preference


@dataclass(frozen=True)
class CategoryChoices:
    slug: str
    name: str
    description: str
    required: bool
    channels: dict[str, bool]


@dataclass(frozen=True)
class PreferencesSnapshot:
    saved: bool  # False until the user (or an app) first saved settings
    timezone: str
    locale: str
    email: str
    phone_number: str
    quiet_hours_start: time | None
    quiet_hours_end: time | None
    quiet_hours_days: list[int]
    muted_channels: list[str]
    paused_until: datetime | None
    digest_frequency: str
    digest_hour: int
    digest_weekday: int
    categories: list[CategoryChoices] = field(default_factory=list)

    def as_json(self) -> dict:
        quiet = None
        if self.quiet_hours_start is not None and self.quiet_hours_end is not None:
            quiet = {
                "start": self.quiet_hours_start.strftime("%H:%M"),
                "end": self.quiet_hours_end.strftime("%H:%M"),
                "days": self.quiet_hours_days,
            }
        return {
            "timezone": self.timezone,
            "locale": self.locale,
            "email": self.email,
            "phone_number": self.phone_number,
            "quiet_hours": quiet,
            "muted_channels": self.muted_channels,
            "paused_until": self.paused_until.isoformat() if self.paused_until else None,
            "digest": {"frequency": self.digest_frequency, "hour": self.digest_hour, "weekday": self.digest_weekday},
            "categories": {
                c.slug: {"name": c.name, "required": c.required, "channels": c.channels} for c in self.categories
            },
        }


def preferences_snapshot(user: AbstractBaseUser) -> PreferencesSnapshot:
    settings = NotificationSettings.objects.filter(user=user).first()
    saved = settings is not None
    settings = settings or NotificationSettings(user=user)
    explicit = {
        (category_id, channel): enabled
        for category_id, channel, enabled in Preference.objects.filter(user=user).values_list(
            "category_id", "channel", "enabled"
        )
    }
    categories = [
        CategoryChoices(
            slug=category.slug,
            name=category.name,
            description=category.description,
            required=category.is_required,
            channels={
                channel: category.is_required or explicit.get((category.pk, channel), True) for channel in ALL_CHANNELS
            },
        )
        for category in Category.objects.filter(enabled=True).order_by("name")
    ]
    return PreferencesSnapshot(
        saved=saved,
        timezone=settings.timezone,
        locale=settings.locale,
        email=user.email,
        phone_number=settings.phone_number,
        quiet_hours_start=settings.quiet_hours_start,
        quiet_hours_end=settings.quiet_hours_end,
        quiet_hours_days=list(settings.quiet_hours_days or []),
        muted_channels=list(settings.muted_channels or []),
        paused_until=settings.paused_until,
        digest_frequency=settings.digest_frequency,
        digest_hour=settings.digest_hour,
        digest_weekday=settings.digest_weekday,
        categories=categories,
    )
