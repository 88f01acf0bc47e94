"""Cleaning a user's per category × channel choices: on/off, digest frequency, own caps.

A choice is either `true`/`false` (on or off) or an object naming any of `enabled`,
`digest` (a frequency, or null for the user's default) and `max_per_hour` / `max_per_day`
(a whole number that may only lower the category's cap, or null for the category's).
Required categories are always on, never digested and never capped, so they take no choice
but `true`.
"""

from __future__ import annotations

from typing import Any

from notifications.channels import ALL_CHANNELS
from notifications.models import Category
from preferences.models import DigestFrequency
from preferences.validation import SettingsError

CHOICE_KEYS = ("enabled", "digest", "max_per_hour", "max_per_day")

CAP_FIELDS = ("max_per_hour", "max_per_day")
# The largest value a PositiveIntegerField holds in every database; past it PostgreSQL (and,
# past 2**63, SQLite) refuses the write with an error instead of storing it.
MAX_CAP = 2**31 - 1

ChoiceKey = tuple[Category, str]


def _clean_cap(category: Category, key: str, value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CAP:
        raise SettingsError(
            {name: f"A whole number of at least 1 (at most {MAX_CAP}), or null for the category's own cap."}
        )
    ceiling = getattr(category, key)
    if ceiling is not None and value > ceiling:
        raise SettingsError({name: f"{category.name} allows at most {ceiling}; you can only lower it."})
    return value


def _clean_choice(category: Category, value: Any, name: str) -> dict[str, Any]:
    """The Preference fields one choice sets."""
    if isinstance(value, bool):
        value = {"enabled": value}
    if not isinstance(value, dict):
        raise SettingsError({name: 'true, false, or an object like {"enabled": true, "digest": "daily"}.'})
    unknown = sorted(str(key) for key in value if key not in CHOICE_KEYS)
    if unknown:
        raise SettingsError({f"{name}.{unknown[0]}"[:200]: f"Unknown field; use {', '.join(CHOICE_KEYS)}."})
    fields: dict[str, Any] = {}
    if "enabled" in value:
        if not isinstance(value["enabled"], bool):
            raise SettingsError({f"{name}.enabled": "true or false."})
        if category.is_required and not value["enabled"]:
            raise SettingsError({name: f"{category.name} is required and cannot be turned off."})
        fields["enabled"] = value["enabled"]
    if "digest" in value:
        digest = value["digest"]
        if digest is not None and digest not in DigestFrequency.values:
            raise SettingsError({f"{name}.digest": f"One of {', '.join(DigestFrequency.values)}, or null."})
        fields["digest_frequency"] = digest or ""
    for key in CAP_FIELDS:
        if key in value:
            fields[key] = _clean_cap(category, key, value[key], f"{name}.{key}")
    if category.is_required and any(fields.get(f) not in (None, "") for f in ("digest_frequency", *CAP_FIELDS)):
        raise SettingsError({name: f"{category.name} is required: it is never digested or capped."})
    return fields


def category_choices_clean(value: Any) -> dict[ChoiceKey, dict[str, Any]]:
    """`{"comment_reply": {"email": false, "push": {"digest": "daily"}}}` → the Preference
    fields to set per (category, channel). Raises SettingsError naming every bad choice."""
    if not isinstance(value, dict):
        raise SettingsError({"categories": 'An object like {"comment_reply": {"email": false}}.'})
    # No slug holds a NUL (PostgreSQL text cannot), and PostgreSQL refuses to look one up.
    slugs = [key for key in value if isinstance(key, str) and "\x00" not in key]
    categories = {c.slug: c for c in Category.objects.filter(slug__in=slugs)}
    cleaned: dict[ChoiceKey, dict[str, Any]] = {}
    errors: dict[str, str] = {}
    for slug, channels in value.items():
        category = categories.get(slug)
        if category is None:
            errors[f"categories.{slug}"[:100]] = "Unknown category."
            continue
        if not isinstance(channels, dict):
            errors[f"categories.{slug}"] = 'An object like {"email": false}.'
            continue
        for channel, choice in channels.items():
            name = f"categories.{slug}.{channel}"[:150]
            if channel not in ALL_CHANNELS:
                errors[name] = "Unknown channel."
                continue
            try:
                cleaned[(category, channel)] = _clean_choice(category, choice, name)
            except SettingsError as error:
                errors.update(error.fields)
    if errors:
        raise SettingsError(errors)
    return cleaned
