"""Changing a user's settings and preferences: one service for the page and the API."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from preferences.category_choices import ChoiceKey, category_choices_clean
from preferences.models import DigestFrequency, NotificationSettings, Preference
from preferences.validation import (
    SettingsError,
    clean_channels,
    clean_datetime,
    clean_days,
    clean_phone_number,
    clean_time,
    clean_timezone,
)

SETTINGS_KEYS = frozenset(
    {"timezone", "locale", "phone_number", "quiet_hours", "muted_channels", "paused_until", "digest", "categories"}
)
DEFAULTS: dict[str, Any] = {
    "timezone": "UTC",
    "locale": "en",
    "phone_number": "",
    "quiet_hours": None,
    "muted_channels": [],
    "paused_until": None,
    "digest": {"frequency": "off", "hour": 8, "weekday": 0},
    "categories": {},
}


def _clean_quiet_hours(value: Any) -> dict[str, Any]:
    if value is None:
        return {"quiet_hours_start": None, "quiet_hours_end": None}
    if not isinstance(value, dict):
        raise SettingsError({"quiet_hours": 'An object {"start": "22:00", "end": "07:00", "days": [0, ...]} or null.'})
    start = clean_time(value.get("start"), "quiet_hours.start")
    end = clean_time(value.get("end"), "quiet_hours.end")
    if start is None or end is None:
        raise SettingsError({"quiet_hours": "Give both a start and an end, or no quiet hours at all."})
    if start == end:
        raise SettingsError({"quiet_hours.end": "The end must differ from the start."})
    days = clean_days(value.get("days", list(range(7))))
    return {"quiet_hours_start": start, "quiet_hours_end": end, "quiet_hours_days": days}


def _clean_digest(value: Any) -> dict[str, Any]:
    """{"frequency": "off" | "hourly" | "daily" | "weekly", "hour": 0-23, "weekday": 0-6}."""
    if not isinstance(value, dict):
        raise SettingsError({"digest": 'An object like {"frequency": "daily", "hour": 8}.'})
    fields: dict[str, Any] = {}
    if "frequency" in value:
        if value["frequency"] not in DigestFrequency.values:
            raise SettingsError({"digest.frequency": f"One of {', '.join(DigestFrequency.values)}."})
        fields["digest_frequency"] = value["frequency"]
    for key, top in (("hour", 23), ("weekday", 6)):
        if key in value:
            number = value[key]
            if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= top:
                raise SettingsError({f"digest.{key}": f"A whole number from 0 to {top}."})
            fields[f"digest_{key}"] = number
    return fields


def _clean(changes: dict[str, Any]) -> tuple[dict[str, Any], dict[ChoiceKey, dict[str, Any]]]:
    fields: dict[str, Any] = {}
    preferences: dict[ChoiceKey, dict[str, Any]] = {}
    errors: dict[str, str] = {}
    cleaners = {
        "timezone": lambda v: {"timezone": clean_timezone(v)},
        "locale": lambda v: {"locale": _clean_locale(v)},
        "phone_number": lambda v: {"phone_number": clean_phone_number(v)},
        "quiet_hours": _clean_quiet_hours,
        "muted_channels": lambda v: {"muted_channels": clean_channels(v, "muted_channels")},
        "paused_until": lambda v: {"paused_until": clean_datetime(v, "paused_until")},
        "digest": _clean_digest,
    }
    for key in sorted(set(changes) - SETTINGS_KEYS):
        errors[str(key)[:100]] = "Unknown field."
    for key, cleaner in cleaners.items():
        if key in changes:
            try:
                fields.update(cleaner(changes[key]))
            except SettingsError as error:
                errors.update(error.fields)
    if "categories" in changes:
        try:
            preferences = category_choices_clean(changes["categories"])
        except SettingsError as error:
            errors.update(error.fields)
    if errors:
        raise SettingsError(errors)
    return fields, preferences


def _clean_locale(value: Any) -> str:
    if not isinstance(value, str) or not 2 <= len(value) <= 10 or not value.replace("-", "").isalnum():
        raise SettingsError({"locale": "A language tag such as en or pt-BR."})
    return value


def preferences_update(user: AbstractBaseUser, changes: dict[str, Any], replace: bool = False) -> None:
    """Apply `changes` (the API's JSON shape). With `replace`, absent keys return to their
    defaults and category choices not named return to on (PUT); otherwise only the named
    keys change (PATCH, and the page). Raises SettingsError naming every bad field."""
    if replace:
        changes = {**DEFAULTS, **changes}
    fields, preferences = _clean(changes)
    with transaction.atomic():
        settings, _ = NotificationSettings.objects.select_for_update().get_or_create(user=user)
        for name, value in fields.items():
            setattr(settings, name, value)
        settings.save()
        if replace:
            Preference.objects.filter(user=user).delete()
        _preferences_write(user, preferences)


def _preferences_write(user: AbstractBaseUser, preferences: dict[ChoiceKey, dict[str, Any]]) -> None:
    """Upsert the choices; a choice changes only the fields it names, so rows are written in
    groups that name the same fields."""
    now = timezone.now()
    groups: dict[tuple[str, ...], list[Preference]] = defaultdict(list)
    for (category, channel), fields in preferences.items():
        row = Preference(user=user, category=category, channel=channel, updated_at=now, **fields)
        groups[tuple(sorted(fields))].append(row)
    for names, rows in groups.items():
        Preference.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["user", "category", "channel"],
            update_fields=[*names, "updated_at"],
        )
