"""The contract every provider adapter keeps."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol


class Outcome(enum.StrEnum):
    DELIVERED = "delivered"
    RETRYABLE = "retryable"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class OutgoingMessage:
    """A rendered message for one address. `reference` is the delivery id, passed to the
    provider as its idempotency or reference key where it has one."""

    channel: str
    reference: str
    to: str
    subject: str = ""
    title: str = ""
    body: str = ""
    html_body: str = ""
    action_url: str = ""
    data: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    provider_message_id: str = ""
    error_code: str = ""
    error_message: str = ""
    retry_after_seconds: float | None = None

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


class Provider(Protocol):
    name: str

    def send(self, message: OutgoingMessage) -> SendResult: ...
