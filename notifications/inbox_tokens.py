"""Inbox tokens: short-lived, signed, one user's access to their own inbox.

An app's backend mints one with its API key for the signed-in user of the app, and hands it
to its front end, which can then read and mark that user's inbox and open the websocket, and
nothing else. The token is signed with SECRET_KEY (django.core.signing, own salt), names the
user and the minting key, and carries its expiry: revoking the key ends its tokens at once.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core import signing

from notifications.models import ApiKey

SALT = "clarion.inbox-token"
MAX_TOKEN_LENGTH = 512  # real tokens are under 100 characters
TOKEN_IN_QUERY = re.compile(r"(\btoken=)[^&\s\"']+")
# ASGI servers log each websocket's path with its query string (uvicorn at INFO, even with
# its access log off), and a browser's inbox token travels in that query string.
SERVER_LOGGERS = ("uvicorn.error", "uvicorn.access", "daphne.server", "daphne.access")


@dataclass(frozen=True)
class InboxToken:
    token: str
    expires_at: datetime


def inbox_token_create(
    user: AbstractBaseUser, api_key: ApiKey | None = None, lifetime_seconds: int | None = None
) -> InboxToken:
    """`api_key` is None only for tokens Clarion mints for its own pages (the demo)."""
    lifetime = settings.CLARION_INBOX_TOKEN_SECONDS if lifetime_seconds is None else lifetime_seconds
    expires = int(time.time()) + lifetime
    payload = {"u": user.pk, "k": api_key.pk if api_key else None, "e": expires}
    return InboxToken(token=signing.dumps(payload, salt=SALT), expires_at=datetime.fromtimestamp(expires, tz=UTC))


def inbox_token_authenticate(token: str) -> AbstractBaseUser | None:
    """The active user a valid, unexpired token names; None for anything else."""
    if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        return None
    try:
        payload = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None
    if not isinstance(payload, dict):
        return None
    user_id, key_id, expires = payload.get("u"), payload.get("k"), payload.get("e")
    if not isinstance(user_id, int) or not isinstance(expires, int) or expires <= time.time():
        return None
    if key_id is not None and not ApiKey.objects.filter(pk=key_id, revoked_at__isnull=True).exists():
        return None
    return get_user_model().objects.filter(pk=user_id, is_active=True).first()


class InboxTokenLogFilter(logging.Filter):
    """Masks `token=...` in log messages, so no log line carries a usable inbox token."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "token=" in message:
            record.msg, record.args = TOKEN_IN_QUERY.sub(r"\1***", message), None
        return True


def inbox_token_log_masking_install() -> None:
    log_filter = InboxTokenLogFilter()
    for name in SERVER_LOGGERS:
        logging.getLogger(name).addFilter(log_filter)
