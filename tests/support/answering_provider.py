"""A provider that answers at once, for tests of recording sends: delivered with an id of its
own for every address but `bounce@example.com`, which it refuses for good."""

from __future__ import annotations

from delivery.providers.base import OutgoingMessage, SendResult

BOUNCING_ADDRESS = "bounce@example.com"


class AnsweringProvider:
    name = "answering"

    def send(self, message: OutgoingMessage) -> SendResult:
        if message.to == BOUNCING_ADDRESS:
            return SendResult.permanent("bounced", "no such mailbox")
        return SendResult.delivered(f"id-{message.reference}")
