"""The in-app websocket: one group per user, authenticated by session or inbox token before
the consumer starts (notifications/socket_auth.py). A client that reconnects adds
`after=<the last item id it saw>` and first receives, oldest first, every item it missed.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from notifications.inbox import inbox_counts, inbox_group_name, inbox_item_payload
from notifications.inbox_feed import MAX_ID, inbox_catch_up, inbox_latest_id
from notifications.socket_auth import USER_ID_SCOPE_KEY, socket_query


def _after(value: str | None) -> int | None:
    """The `after` parameter; anything but a plain id is ignored (no catch-up) rather than
    refused, so a client with a damaged watermark still gets live pushes."""
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 19:
        return None
    return min(int(value), MAX_ID)


def _greeting(user_id: int, after: int | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    counts = inbox_counts(user_id).as_json()
    hello: dict[str, Any] = {
        "type": "hello",
        "unread": counts["unread"],
        "counts": counts,
        "last_id": inbox_latest_id(user_id),
    }
    missed: list[dict[str, Any]] = []
    if after is not None:
        catch_up = inbox_catch_up(user_id, after)
        hello["missed"] = len(catch_up.items)
        hello["truncated"] = catch_up.truncated
        missed = [
            {
                "type": "notification.created",
                "item": inbox_item_payload(item),
                "counts": counts,
                "unread": counts["unread"],
                "silent": False,
                "catch_up": True,
            }
            for item in catch_up.items
        ]
    return hello, missed


class InboxConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        user_id = self.scope[USER_ID_SCOPE_KEY]
        self.group_name = inbox_group_name(user_id)
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        await self.accept()
        # Read after group_add, so nothing stored from here on can slip between the catch-up
        # and the live pushes; layer events wait until connect() returns, so they follow.
        hello, missed = await database_sync_to_async(_greeting)(user_id, _after(socket_query(self.scope).get("after")))
        self.caught_up_ids = {message["item"]["id"] for message in missed}
        await self.send_json(hello)
        for message in missed:
            await self.send_json(message)

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group_name"):
            await self.channel_layer.group_discard(self.group_name, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        # Nothing a client sends is parsed, so no frame can crash the consumer.
        await self.send_json({"type": "error", "message": "This socket only pushes; use the REST API to act."})

    async def inbox_item(self, event: dict[str, Any]) -> None:
        if event["item"]["id"] in self.caught_up_ids:
            return  # stored while this socket connected: already sent with the catch-up
        await self.send_json(
            {
                "type": "notification.created",
                "item": event["item"],
                "counts": event["counts"],
                "unread": event["counts"]["unread"],
                "silent": event.get("silent", False),
            }
        )

    async def inbox_counts(self, event: dict[str, Any]) -> None:
        await self.send_json(
            {
                "type": "counts.updated",
                "counts": event["counts"],
                "unread": event["counts"]["unread"],
                "change": event["change"],
            }
        )
