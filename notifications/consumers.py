"""The in-app websocket: one group per signed-in user."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from notifications.inbox import inbox_group_name, inbox_unread_count

UNAUTHENTICATED_CLOSE_CODE = 4401


class InboxConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=UNAUTHENTICATED_CLOSE_CODE)
            return
        self.group_name = inbox_group_name(user.pk)
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        await self.accept()
        unread = await database_sync_to_async(inbox_unread_count)(user.pk)
        # Sent after group_add, so a client that has seen `hello` will see every later push.
        await self.send_json({"type": "hello", "unread": unread})

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group_name"):
            await self.channel_layer.group_discard(self.group_name, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        # Nothing a client sends is parsed, so no frame can crash the consumer.
        await self.send_json({"type": "error", "message": "This socket only pushes; use the REST API to act."})

    async def inbox_item(self, event: dict[str, Any]) -> None:
        await self.send_json(
            {
                "type": "notification.created",
                "item": event["item"],
                "unread": event["unread"],
                "silent": event.get("silent", False),
            }
        )
