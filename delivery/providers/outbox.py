"""The development provider: keeps each message where the admin can show it."""

from __future__ import annotations

from collections.abc import Callable

from delivery.providers.base import OutgoingMessage, SendResult

OutboxSink = Callable[[OutgoingMessage], str]


class OutboxProvider:
    name = "outbox"
    local = True  # stores in Clarion's database: sent on the task's thread

    def __init__(self, sink: OutboxSink) -> None:
        self._sink = sink

    def send(self, message: OutgoingMessage) -> SendResult:
        return SendResult.delivered(provider_message_id=self._sink(message))
