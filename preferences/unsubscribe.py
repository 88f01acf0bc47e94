"""One-click unsubscribe links (RFC 8058): a signed, expiring token naming one user, one
category and one channel, and the absolute URL an email carries.

The token is the link's only credential: whoever holds the email may turn that one
preference off (or back on), and nothing else. It is signed with SECRET_KEY (and
SECRET_KEY_FALLBACKS, so rotating the key does not break links already sent) under a salt
of its own, so no other signed value of Django's or Clarion's can pass for one.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "clarion.unsubscribe"


@dataclass(frozen=True)
class UnsubscribeTarget:
    user_id: int
    category_slug: str
    channel: str


class UnsubscribeLinkError(Exception):
    """The link was altered, mistyped, signed for something else, or is too old."""

    def __init__(self, expired: bool) -> None:
        super().__init__("unsubscribe link expired" if expired else "unsubscribe link invalid")
        self.expired = expired


def unsubscribe_token(target: UnsubscribeTarget) -> str:
    # A JSON list keeps the token short; the signer adds the issue time.
    return signing.dumps([target.user_id, target.category_slug, target.channel], salt=SALT)


def unsubscribe_target(token: str, max_age_seconds: float | None = None) -> UnsubscribeTarget:
    """The target a token names, or UnsubscribeLinkError when it is tampered or expired."""
    if max_age_seconds is None:
        max_age_seconds = settings.CLARION_UNSUBSCRIBE_MAX_AGE_SECONDS
    try:
        payload = signing.loads(token, salt=SALT, max_age=max_age_seconds)
    except signing.SignatureExpired as error:
        raise UnsubscribeLinkError(expired=True) from error
    except signing.BadSignature as error:
        raise UnsubscribeLinkError(expired=False) from error
    match payload:
        case [int() as user_id, str() as category_slug, str() as channel]:
            return UnsubscribeTarget(user_id, category_slug, channel)
    # Signed by us, but not in this shape: never a link we sent.
    raise UnsubscribeLinkError(expired=False)


def unsubscribe_url(target: UnsubscribeTarget) -> str:
    """The absolute link for an email; mail clients POST to it for one-click unsubscribe."""
    path = reverse("unsubscribe", kwargs={"token": unsubscribe_token(target)})
    return settings.CLARION_BASE_URL.rstrip("/") + path
