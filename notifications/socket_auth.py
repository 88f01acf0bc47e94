"""Who an inbox websocket belongs to, decided before any consumer exists.

A session, or an inbox token in the query string (browsers cannot set headers on a
websocket): `/ws/notifications/?token=<token>`. A token must be valid and, next to a session,
name the same user: a token never silently wins over who is signed in.

Refusing here rather than in the consumer keeps a refused socket off the channel layer: a
consumer starts a blocking Redis read for its channel as soon as it exists, and that read
outlives the socket by up to channels_redis' five-second poll. Anyone can open sockets; only
those that authenticate cost Redis anything.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async

from notifications.inbox_tokens import inbox_token_authenticate

UNAUTHENTICATED_CLOSE_CODE = 4401
# Where the consumer finds the user id this middleware authenticated.
USER_ID_SCOPE_KEY = "inbox_user_id"

Scope = dict[str, Any]


def socket_query(scope: Scope) -> dict[str, str]:
    """The query string's parameters, the last value of each."""
    params = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return {name: values[-1] for name, values in params.items()}


async def socket_user_id(scope: Scope) -> int | None:
    """The user id, or None to refuse."""
    session_user = scope.get("user")
    session_user_id = session_user.pk if session_user is not None and session_user.is_authenticated else None
    token = socket_query(scope).get("token")
    if token is None:
        return session_user_id
    token_user = await database_sync_to_async(inbox_token_authenticate)(token)
    if token_user is None or (session_user_id is not None and token_user.pk != session_user_id):
        return None
    return token_user.pk


class InboxSocketAuthMiddleware:
    """Passes an authenticated socket on with its user id in the scope; closes any other
    with 4401 before accepting it. Goes inside channels' AuthMiddlewareStack (the session)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        user_id = await socket_user_id(scope)
        if user_id is not None:
            await self.inner({**scope, USER_ID_SCOPE_KEY: user_id}, receive, send)
            return
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.close", "code": UNAUTHENTICATED_CLOSE_CODE})
