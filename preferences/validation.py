"""Validation of what users and apps may set, shared by the preference page and the API.

Each function returns the cleaned value or raises SettingsError naming the field.
"""

from __future__ import annotations

from datetime import datetime, time
from functools import cache
from typing import Any
from zoneinfo import available_timezones

import phonenumbers

from notifications.channels import ALL_CHANNELS


class SettingsError(Exception):
    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {problem}" for name, problem in fields.items()))
        self.fields = fields


@cache
def timezone_names() -> tuple[str, ...]:
    return tuple(sorted(available_timezones() - {"Factory", "localtime"}))


def clean_timezone(value: Any) -> str:
    if not isinstance(value, str) or value not in timezone_names():
        raise SettingsError({"timezone": "Use an IANA time zone such as Europe/Paris."})
    return value


def clean_phone_number(value: Any) -> str:
    """Normalize to E.164; empty means no phone."""
    if value in (None, ""):
        return ""
    problem = "Give the number with its country code, e.g. +14155550100."
    if not isinstance(value, str) or len(value) > 32:
        raise SettingsError({"phone_number": problem})
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as error:
        raise SettingsError({"phone_number": problem}) from error
    if not phonenumbers.is_valid_number(parsed):
        raise SettingsError({"phone_number": "This is not a valid phone number."})
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def clean_time(value: Any, field: str) -> time | None:
    if value in (None, ""):
        return None
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        try:
            parsed = time.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is None:
            return parsed
    raise SettingsError({field: "Use HH:MM, e.g. 22:00."})


def clean_days(value: Any) -> list[int]:
    if not isinstance(value, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in value):
        raise SettingsError({"quiet_hours.days": "A list of weekdays, 0 (Monday) to 6 (Sunday)."})
    if any(d < 0 or d > 6 for d in value):
        raise SettingsError({"quiet_hours.days": "Weekdays run from 0 (Monday) to 6 (Sunday)."})
    return sorted(set(value))


def clean_channels(value: Any, field: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise SettingsError({field: f"A list of channels: {', '.join(ALL_CHANNELS)}."})
    unknown = sorted(set(value) - set(ALL_CHANNELS))
    if unknown:
        raise SettingsError({field: f"Unknown channels: {', '.join(unknown)}."})
    return sorted(set(value))


def clean_datetime(value: Any, field: str) -> datetime | None:
    if value in (None, ""):
        return None
    parsed = None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise SettingsError({field: "Use an ISO 8601 time with its offset, e.g. 2026-05-01T08:00:00Z."})
    return parsed
