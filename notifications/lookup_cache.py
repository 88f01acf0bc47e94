"""Rows the accept path reads on every request, kept in each web process for a moment.

Every POST reads its API key and its category; both change rarely. At hundreds of requests a
second, keeping each row for LOOKUP_CACHE_SECONDS saves those two queries on nearly every
request (about a sixth of a single-recipient POST's CPU). What it costs: a key revoked or a
category disabled in another process is still honoured there for up to that long. A save or
delete in this process clears the cache at once (signals, connected in apps.py), as does the
admin's bulk revoke, so the process that made a change sees it immediately.

Only rows found are kept: an unknown key or category is looked up again on the next request,
so a new category is usable at once and random prefixes cannot fill the cache.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from notifications.models import ApiKey, Category

LOOKUP_CACHE_SECONDS = 1.0
MAX_ENTRIES = 1024

Row = TypeVar("Row")


class LookupCache(Generic[Row]):
    """Rows by key, each reused for `seconds` after it was read."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._seconds = seconds
        self._clock = clock
        self._entries: dict[str, tuple[float, Row]] = {}

    def get(self, key: str, load: Callable[[], Row | None]) -> Row | None:
        now = self._clock()
        entry = self._entries.get(key)
        if entry is not None and now - entry[0] < self._seconds:
            return entry[1]
        row = load()
        if row is None:
            self._entries.pop(key, None)
            return None
        if len(self._entries) >= MAX_ENTRIES:
            self._entries = {}
        # Threads may both load on expiry; either row is as fresh, and the later one stays.
        self._entries[key] = (now, row)
        return row

    def clear(self) -> None:
        self._entries = {}


_api_keys: LookupCache[ApiKey] = LookupCache(LOOKUP_CACHE_SECONDS)
_categories: LookupCache[Category] = LookupCache(LOOKUP_CACHE_SECONDS)


def api_key_by_prefix(prefix: str) -> ApiKey | None:
    """The key with this prefix, revoked or not; None when there is none."""
    return _api_keys.get(prefix, lambda: ApiKey.objects.filter(prefix=prefix).first())


def enabled_category(slug: str) -> Category | None:
    return _categories.get(slug, lambda: Category.objects.filter(slug=slug, enabled=True).first())


def lookup_caches_clear(**_signal: Any) -> None:
    """Forget every kept row in this process; also a receiver for save and delete signals."""
    _api_keys.clear()
    _categories.clear()
