"""The end user's preference page: server-rendered, works without JavaScript."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from delivery.devices import device_remove, devices_for_user
from notifications.channels import Channel
from preferences.models import DigestFrequency
from preferences.selectors import preferences_snapshot
from preferences.services import preferences_update
from preferences.validation import SettingsError, timezone_names

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def _local_datetime(value: str, zone_name: str) -> str | None:
    """A datetime-local input is wall time in the user's zone; the service wants an offset."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=ZoneInfo(zone_name)).isoformat()
    except (ValueError, KeyError):
        return value  # let the service name the problem


def changes_from_form(form: QueryDict, category_slugs: list[str]) -> dict[str, Any]:
    """Translate the page's form fields into the service's (and the API's) JSON shape."""
    zone = form.get("timezone", "UTC")
    quiet = None
    if form.get("quiet_hours_start") or form.get("quiet_hours_end"):
        quiet = {
            "start": form.get("quiet_hours_start", ""),
            "end": form.get("quiet_hours_end", ""),
            "days": [int(d) for d in form.getlist("quiet_hours_days") if d.isdigit()],
        }
    categories = {slug: _category_choices(form, slug) for slug in category_slugs}
    digest: dict[str, Any] = {"frequency": form.get("digest_frequency", "off")}
    for key in ("hour", "weekday"):
        raw = form.get(f"digest_{key}")
        if raw is not None:
            digest[key] = int(raw) if raw.isdigit() else raw
    return {
        "timezone": zone,
        "digest": digest,
        "phone_number": form.get("phone_number", "").strip(),
        "quiet_hours": quiet,
        "muted_channels": form.getlist("muted_channels"),
        "paused_until": _local_datetime(form.get("paused_until", ""), zone) if zone in timezone_names() else None,
        "categories": categories,
    }


# Per-category controls the page shows once for all channels. Each is submitted beside the
# value it showed, and only a changed one is applied, so per-channel values set through the
# API survive a save of the page.
CATEGORY_CONTROLS = ("digest", "max_per_hour", "max_per_day")


def _category_choices(form: QueryDict, slug: str) -> dict[str, Any]:
    changed: dict[str, Any] = {}
    for key in CATEGORY_CONTROLS:
        raw = form.get(f"{key}:{slug}")
        if raw is None or raw == form.get(f"{key}_shown:{slug}"):
            continue
        raw = raw.strip()
        if key == "digest":
            changed[key] = raw or None
        else:
            changed[key] = int(raw) if raw.isdigit() else (raw or None)
    return {channel: {"enabled": f"pref:{slug}:{channel}" in form, **changed} for channel in Channel.values}


@login_required
@require_http_methods(["GET", "POST"])
def preferences_page(request: HttpRequest) -> HttpResponse:
    snapshot = preferences_snapshot(request.user)
    errors: dict[str, str] = {}
    if request.method == "POST":
        # Required categories are shown locked and never submitted as off.
        editable = [c.slug for c in snapshot.categories if not c.required]
        try:
            preferences_update(request.user, changes_from_form(request.POST, editable))
        except SettingsError as error:
            errors = error.fields
        else:
            messages.success(request, "Your notification settings are saved.")
            return redirect("preferences")
    paused_local = ""
    if snapshot.paused_until:
        paused_local = snapshot.paused_until.astimezone(ZoneInfo(snapshot.timezone)).strftime("%Y-%m-%dT%H:%M")
    context = {
        "snapshot": snapshot,
        "channels": Channel.choices,
        "timezones": timezone_names(),
        "weekdays": list(enumerate(WEEKDAYS)),
        "hours": range(24),
        "digest_frequencies": DigestFrequency.choices,
        "paused_local": paused_local,
        "devices": devices_for_user(request.user),
        "errors": errors,
    }
    return render(request, "preferences/page.html", context, status=400 if errors else 200)


@login_required
@require_POST
def device_remove_page(request: HttpRequest, device_id: int) -> HttpResponse:
    if device_remove(request.user, device_id):
        messages.success(request, "The device will no longer receive push notifications.")
    else:
        messages.error(request, "No such device.")
    return redirect("preferences")
