"""API keys: created and shown once, stored as a SHA-256 hash, found by a short prefix.

A plain hash suffices because keys are 256-bit random strings, not passwords: there is
nothing to brute-force, and a fast hash keeps authentication off the hot path.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from django.utils import timezone

from notifications.lookup_cache import api_key_by_prefix
from notifications.models import ApiKey

KEY_SCHEME = "clr"
PREFIX_PATTERN = re.compile(r"[0-9a-f]{8}")
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_key_create(name: str) -> tuple[ApiKey, str]:
    """Create a key; the raw key is returned here and never again."""
    prefix = secrets.token_hex(4)
    raw_key = f"{KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(name=name, prefix=prefix, key_hash=_hash(raw_key))
    return api_key, raw_key


def api_key_revoke(prefix: str) -> ApiKey | None:
    api_key = ApiKey.objects.filter(prefix=prefix, revoked_at__isnull=True).first()
    if api_key is not None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def api_key_authenticate(raw_key: str) -> ApiKey | None:
    parts = raw_key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_SCHEME or not PREFIX_PATTERN.fullmatch(parts[1]):
        # Checked before the query: PostgreSQL refuses NUL characters in a lookup.
        return None
    api_key = api_key_by_prefix(parts[1])
    if api_key is None or not hmac.compare_digest(api_key.key_hash, _hash(raw_key)) or not api_key.is_active:
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        # One write a minute at most, not one per request.
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        # The row may be this process' kept one (lookup_cache.py): the next request compares
        # with the time just written, not the time it was read.
        api_key.last_used_at = now
    return api_key
