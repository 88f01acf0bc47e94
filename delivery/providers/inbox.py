"""The in-app provider: Clarion itself, storing the item and pushing it to open sockets."""

from __future__ import annotations

from collections.abc import Callable

from delivery.providers.base import OutgoingMessage, SendResult

InboxStore = Callable[[OutgoingMessage], str]


class InboxProvider:
    name = "inbox"
    local = True  # stores in Clarion's database: sent on the task's thread

    def __init__(self, store: InboxStore) -> None:
        self._store = store

    def send(self, message: OutgoingMessage) -> SendResult:
        return SendResult.delivered(provider_message_id=self._store(message))
