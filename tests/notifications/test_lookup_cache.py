"""API keys and categories kept per process for a moment (notifications/lookup_cache.py)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from notifications import lookup_cache
from notifications.api_keys import api_key_authenticate, api_key_create, api_key_revoke
from notifications.lookup_cache import LOOKUP_CACHE_SECONDS, LookupCache, enabled_category
from notifications.models import ApiKey, Category
from tests import factories


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_row_is_reused_until_its_seconds_pass():
    clock, loads = Clock(), []
    cache: LookupCache[str] = LookupCache(1.0, clock=clock)

    def load() -> str:
        loads.append(clock.now)
        return f"row read at {clock.now}"

    assert cache.get("k", load) == "row read at 100.0"
    clock.now = 100.9
    assert cache.get("k", load) == "row read at 100.0"
    clock.now = 101.0
    assert cache.get("k", load) == "row read at 101.0"
    assert loads == [100.0, 101.0]


def test_nothing_found_is_not_kept_and_clear_forgets():
    clock = Clock()
    cache: LookupCache[str] = LookupCache(1.0, clock=clock)
    assert cache.get("k", lambda: None) is None
    assert cache.get("k", lambda: "now there") == "now there"
    cache.clear()
    assert cache.get("k", lambda: "read again") == "read again"


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """The module's caches on a clock the test moves."""
    clock = Clock()
    monkeypatch.setattr(lookup_cache, "_api_keys", LookupCache(LOOKUP_CACHE_SECONDS, clock=clock))
    monkeypatch.setattr(lookup_cache, "_categories", LookupCache(LOOKUP_CACHE_SECONDS, clock=clock))
    return clock


@pytest.mark.django_db
def test_a_key_revoked_in_this_process_is_refused_at_once(clock):
    api_key, raw_key = api_key_create("app")
    assert api_key_authenticate(raw_key) == api_key
    api_key_revoke(api_key.prefix)
    assert api_key_authenticate(raw_key) is None


@pytest.mark.django_db
def test_a_key_revoked_elsewhere_is_refused_once_the_kept_row_expires(clock):
    api_key, raw_key = api_key_create("app")
    assert api_key_authenticate(raw_key) == api_key
    # Another process revokes it: a write this process sends no signal for.
    ApiKey.objects.filter(pk=api_key.pk).update(revoked_at=timezone.now())
    assert api_key_authenticate(raw_key) == api_key, "kept for LOOKUP_CACHE_SECONDS"
    clock.now += LOOKUP_CACHE_SECONDS
    assert api_key_authenticate(raw_key) is None


@pytest.mark.django_db
def test_a_category_disabled_in_this_process_is_unknown_at_once(clock):
    category = factories.CategoryFactory(slug="comment_reply")
    assert enabled_category("comment_reply") == category
    category.enabled = False
    category.save()
    assert enabled_category("comment_reply") is None
    Category.objects.filter(pk=category.pk).update(enabled=True)
    assert enabled_category("comment_reply") == category, "an unknown slug is read again at once"


@pytest.mark.django_db
def test_the_admins_bulk_revoke_is_refused_at_once(admin_client, clock):
    api_key, raw_key = api_key_create("app")
    assert api_key_authenticate(raw_key) == api_key
    response = admin_client.post(
        "/admin/notifications/apikey/", {"action": "revoke", "_selected_action": [api_key.pk]}, follow=True
    )
    assert response.status_code == 200
    assert api_key_authenticate(raw_key) is None
