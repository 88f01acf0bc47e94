"""The contract every provider adapter keeps."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Protocol


class Outcome(enum.StrEnum):
    DELIVERED = "delivered"
    RETRYABLE = "retryable"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class OutgoingMessage:
    """A rendered message for one address. `reference` is the delivery id, passed to the
    provider as its idempotency or reference key where it has one. A push goes to every
    active device of the user: `tokens` lists them. An email with an `unsubscribe_url`
    carries it in RFC 8058 one-click headers (`email_headers`)."""

    channel: str
    reference: str
    to: str
    subject: str = ""
    title: str = ""
    body: str = ""
    html_body: str = ""
    action_url: str = ""
    data: dict[str, str] = field(default_factory=dict)
    tokens: tuple[str, ...] = ()
    unsubscribe_url: str = ""

    @property
    def email_headers(self) -> dict[str, str]:
        if not self.unsubscribe_url:
            return {}
        # Mail clients show an unsubscribe button for List-Unsubscribe and, seeing the Post
        # header, POST "List-Unsubscribe=One-Click" to the URL themselves (RFC 8058).
        return {
            "List-Unsubscribe": f"<{self.unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }


@dataclass(frozen=True)
class SendResult:
    """What the provider made of a message. `invalid_addresses` are addresses (device tokens)
    the provider says are dead, whatever the outcome: the caller deactivates them."""

    outcome: Outcome
    provider_message_id: str = ""
    error_code: str = ""
    error_message: str = ""
    retry_after_seconds: float | None = None
    invalid_addresses: tuple[str, ...] = ()
    # A permanent error of this provider's own (bad credentials, suspended account), not of
    # the message or address: the next provider in the chain may well succeed.
    provider_fault: bool = False

    @classmethod
    def delivered(cls, provider_message_id: str = "") -> SendResult:
        return cls(Outcome.DELIVERED, provider_message_id=provider_message_id)

    @classmethod
    def retryable(cls, code: str, message: str, retry_after_seconds: float | None = None) -> SendResult:
        return cls(
            Outcome.RETRYABLE, error_code=code, error_message=message[:2000], retry_after_seconds=retry_after_seconds
        )

    @classmethod
    def permanent(cls, code: str, message: str) -> SendResult:
        return cls(Outcome.PERMANENT, error_code=code, error_message=message[:2000])

    @classmethod
    def misconfigured(cls, code: str, message: str) -> SendResult:
        return cls(
            Outcome.PERMANENT, error_code=code, error_message=f"misconfiguration: {message}"[:2000], provider_fault=True
        )


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from an HTTP Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class Provider(Protocol):
    """An adapter. `send` may be called from several threads at once (delivery/send_pool.py),
    so an adapter keeps no per-call state of its own outside the call, or keeps it per thread.

    A provider that writes to Clarion's own database instead of calling a service (outbox,
    inbox) says so with a class attribute `local = True`: its sends run on the task's thread,
    the one holding the database connection, and there is no latency to hide. One that can
    do several sends for less than one each also has `send_many(messages) -> list[SendResult]`
    (answers in order), which a chunk's local sends go through."""

    name: str

    def send(self, message: OutgoingMessage) -> SendResult: ...


def provider_is_local(provider: Provider) -> bool:
    return getattr(provider, "local", False)


def provider_send_many(provider: Provider, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
    """Several sends to one provider: its `send_many` where it has one, else one at a time."""
    send_many = getattr(provider, "send_many", None)
    if send_many is not None:
        return send_many(messages)
    return [provider.send(message) for message in messages]
