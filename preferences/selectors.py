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
    # Per channel: the user's digest frequency ("" = their default) and own caps (None = the category's).
    overrides: dict[str, dict[str, str | int | None]] = field(default_factory=dict)
    category_caps: dict[str, int | None] = field(default_factory=dict)

    def shared_override(self, key: str) -> str | int | None:
        """The override every channel shares, for the page's one control per category;
        None when the channels differ (then only the API sets them)."""
        values = {self.overrides[channel][key] for channel in self.overrides}
        return values.pop() if len(values) == 1 else None

    @property
    def digest_choice(self) -> str | int | None:
        return self.shared_override("digest")

    @property
    def cap_controls(self) -> list[dict[str, str | int | None]]:
        """The user's own caps as the page shows them, with the category's as the ceiling."""
        return [
            {"key": key, "label": label, "value": self.shared_override(key), "ceiling": self.category_caps.get(key)}
            for key, label in (("max_per_hour", "At most per hour"), ("max_per_day", "At most per day"))
        ]


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
                c.slug: {
                    "name": c.name,
                    "required": c.required,
                    "channels": c.channels,
                    "overrides": c.overrides,
                    "category_caps": c.category_caps,
                }
                for c in self.categories
            },
        }


def _overrides(row: dict) -> dict[str, str | int | None]:
    return {
        "digest": row.get("digest_frequency") or None,
        "max_per_hour": row.get("max_per_hour"),
        "max_per_day": row.get("max_per_day"),
    }


def preferences_snapshot(user: AbstractBaseUser) -> PreferencesSnapshot:
    settings = NotificationSettings.objects.filter(user=user).first()
    saved = settings is not None
    settings = settings or NotificationSettings(user=user)
    explicit = {
        (row["category_id"], row["channel"]): row
        for row in Preference.objects.filter(user=user).values(
            "category_id", "channel", "enabled", "digest_frequency", "max_per_hour", "max_per_day"
        )
    }
    categories = [
        CategoryChoices(
            slug=category.slug,
            name=category.name,
            description=category.description,
            required=category.is_required,
            channels={
                channel: category.is_required or explicit.get((category.pk, channel), {}).get("enabled", True)
                for channel in ALL_CHANNELS
            },
            overrides={channel: _overrides(explicit.get((category.pk, channel), {})) for channel in ALL_CHANNELS},
            category_caps={"max_per_hour": category.max_per_hour, "max_per_day": category.max_per_day},
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
