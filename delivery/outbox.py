"""Storage behind the development `outbox` provider."""

from __future__ import annotations

from delivery.models import OutboxMessage
from delivery.providers.base import OutgoingMessage


def outbox_message_store(message: OutgoingMessage) -> str:
    stored, _ = OutboxMessage.objects.get_or_create(
        channel=message.channel,
        reference=message.reference,
        defaults={
            "to": message.to,
            "subject": message.subject or message.title,
            "body": message.body,
            "html_body": message.html_body,
        },
    )
    return f"outbox-{stored.pk}"
