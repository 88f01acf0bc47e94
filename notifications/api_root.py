"""`GET /api/v1/`: what the API offers, for people exploring it with curl."""

from __future__ import annotations

from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class ApiRootApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        return Response(
            {
                "name": "Clarion",
                "authentication": "Authorization: Api-Key <key>",
                "endpoints": {
                    "create notifications": "POST /api/v1/notifications",
                    "read a notification": "GET /api/v1/notifications/{id}",
                    "mint an inbox token for a user's front end": "POST /api/v1/users/{id}/inbox-token",
                    "inbox feed (session or Inbox-Token)": "GET /api/v1/inbox/items",
                    "inbox counts": "GET /api/v1/inbox/counts",
                    "mark one inbox item": "POST /api/v1/inbox/items/{id}/{read|unread|seen|archived|unarchived}",
                    "mark inbox items or all": "POST /api/v1/inbox/{read|unread|seen|archived|unarchived}",
                    "in-app websocket": "/ws/notifications/ (session, or ?token=<inbox token>; &after=<last id>)",
                },
            }
        )
