"""The public REST API for apps."""

from __future__ import annotations

from uuid import UUID

from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications.api_errors import ApiError
from notifications.selectors import notification_get_for_api_key
from notifications.serializers import (
    NotificationCreateSerializer,
    NotificationDetailSerializer,
    NotificationSummarySerializer,
)
from notifications.services import AcceptError, AcceptRequest, body_hash, notification_accept


class NotificationListApi(APIView):
    def post(self, request: Request) -> Response:
        serializer = NotificationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        header_key = request.headers.get("Idempotency-Key", "").strip() or None
        body_key = values.get("idempotency_key")
        if header_key and len(header_key) > 255:
            raise ApiError(
                400,
                "invalid",
                "The Idempotency-Key header is longer than 255 characters.",
                {"Idempotency-Key": "Too long."},
            )
        if header_key and "\x00" in header_key:
            raise ApiError(
                400,
                "invalid",
                "The Idempotency-Key header contains a NUL character.",
                {"Idempotency-Key": "Cannot contain NUL characters."},
            )
        if header_key and body_key and header_key != body_key:
            raise ApiError(
                400,
                "invalid",
                "The Idempotency-Key header and the body's idempotency_key differ.",
                {"idempotency_key": "Differs from the Idempotency-Key header."},
            )
        accept_request = AcceptRequest(
            category=values["category"],
            recipients=values["recipients"],
            data=values.get("data", {}),
            priority=values.get("priority"),
            channels=values.get("channels", []),
            idempotency_key=header_key or body_key,
            dedup_key=values.get("dedup_key", ""),
            body_hash=body_hash({k: v for k, v in request.data.items() if k != "idempotency_key"}),
        )
        try:
            result = notification_accept(request.auth, accept_request)
        except AcceptError as error:
            raise ApiError(error.status, error.code, error.message, error.fields) from error
        body = {"notifications": NotificationSummarySerializer(result.notifications, many=True).data}
        return Response(body, status=status.HTTP_202_ACCEPTED if result.created else status.HTTP_200_OK)


class NotificationDetailApi(APIView):
    def get(self, request: Request, notification_id: UUID) -> Response:
        notification = notification_get_for_api_key(request.auth, notification_id)
        if notification is None:
            raise ApiError(404, "not_found", "No such notification.", {"id": "Unknown notification."})
        return Response(NotificationDetailSerializer(notification).data)
