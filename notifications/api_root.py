"""`GET /api/v1/`: what the API offers, for people exploring it with curl."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class ApiRootApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="api_root",
        tags=["about"],
        summary="What the API offers, in brief (no credentials needed)",
        responses=inline_serializer(
            "ApiRoot",
            fields={
                "name": serializers.CharField(),
                "authentication": serializers.CharField(),
                "endpoints": serializers.DictField(child=serializers.CharField()),
            },
        ),
    )
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
                    "a user's preferences": "GET|PUT|PATCH /api/v1/users/{id}/preferences",
                    "register a push device": "POST /api/v1/devices",
                    "remove a push device": "DELETE /api/v1/devices/{token}",
                    "OpenAPI schema": "GET /api/schema/",
                    "interactive docs": "GET /api/docs/",
                },
            }
        )
