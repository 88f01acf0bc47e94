"""The in-app provider: Clarion itself, storing the item and pushing it to open sockets."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from delivery.providers.base import OutgoingMessage, SendResult

# Stores several messages' items at once; returns each one's item reference, in order.
InboxStore = Callable[[Sequence[OutgoingMessage]], list[str]]


class InboxProvider:
    name = "inbox"
    local = True  # stores in Clarion's database: sent on the task's thread

    def __init__(self, store: InboxStore) -> None:
        self._store = store

    def send(self, message: OutgoingMessage) -> SendResult:
        return self.send_many([message])[0]

    def send_many(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        """A chunk's in-app items in a few queries and one round of pushes, not each on its own."""
        return [SendResult.delivered(provider_message_id=reference) for reference in self._store(messages)]
