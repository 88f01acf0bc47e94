"""The public REST API for apps."""

from __future__ import annotations

from uuid import UUID

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications.api_errors import ApiError
from notifications.api_schema import (
    NOT_JSON,
    RATE_LIMITED_EXAMPLE,
    TOO_LARGE,
    api_key_errors,
    error_example,
    error_response,
    invalid,
    not_found,
)
from notifications.load_shedding import notification_shed_check
from notifications.selectors import notification_get_for_api_key
from notifications.serializers import (
    NotificationCreateSerializer,
    NotificationDetailSerializer,
    NotificationSummarySerializer,
    notification_create_validate,
    notification_summaries,
)
from notifications.services import AcceptError, AcceptRequest, body_hash, notification_accept

EXAMPLE_ID = "5f0c6c1e-8a4b-4f7e-9d2a-3b1c2d4e5f60"
NOTIFICATIONS_ACCEPTED = inline_serializer(
    "NotificationsAccepted", fields={"notifications": NotificationSummarySerializer(many=True)}
)
ACCEPTED_EXAMPLE = OpenApiExample(
    "accepted", value={"notifications": [{"id": EXAMPLE_ID, "recipient": 42, "status": "accepted"}]}
)

DETAIL_EXAMPLE = OpenApiExample(
    "delivered by email",
    value={
        "id": EXAMPLE_ID,
        "category": "comment_reply",
        "recipient": 42,
        "priority": "normal",
        "status": "planned",
        "data": {"author": "Grace", "excerpt": "Nice work!"},
        "dedup_key": "",
        "created_at": "2026-01-01T12:00:00Z",
        "deliveries": [
            {
                "channel": "email",
                "status": "delivered",
                "reason": "send now",
                "provider": "ses",
                "provider_message_id": "0100018c-ses-id",
                "scheduled_for": None,
                "sent_at": "2026-01-01T12:00:01Z",
                "attempts": [
                    {
                        "provider": "ses",
                        "outcome": "delivered",
                        "error_code": "",
                        "error_message": "",
                        "started_at": "2026-01-01T12:00:01Z",
                        "finished_at": "2026-01-01T12:00:01Z",
                    }
                ],
            }
        ],
    },
)


class NotificationListApi(APIView):
    @extend_schema(
        operation_id="notifications_create",
        tags=["notifications"],
        summary="Send a notification to one or more users",
        description="Writes one notification per recipient and answers once they are committed; delivery "
        "happens afterwards. A repeated idempotency key with the same body returns the original "
        "notifications with 200.",
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="Unique per API key (up to 255 characters); the same as the body's `idempotency_key`, "
                "which it must equal when both are sent.",
            ),
        ],
        request=NotificationCreateSerializer,
        responses={
            202: OpenApiResponse(
                NOTIFICATIONS_ACCEPTED, "Accepted: one notification per recipient.", [ACCEPTED_EXAMPLE]
            ),
            200: OpenApiResponse(
                NOTIFICATIONS_ACCEPTED, "A repeat of an idempotency key with the same body: the original notifications."
            ),
            400: invalid(
                error_example(
                    "invalid", "recipients: This list may not be empty.", {"recipients": "This list may not be empty."}
                ),
                error_example("unknown_recipients", "Unknown recipients: bob.", {"recipients": "Unknown: bob"}),
                error_example(
                    "unknown_category", "No enabled category 'comment_rep'.", {"category": "Unknown category."}
                ),
            ),
            409: error_response(
                "The idempotency key was used before with another body.",
                error_example(
                    "idempotency_key_reused",
                    "This idempotency key was used with a different body.",
                    {"idempotency_key": "Used before with a different body."},
                ),
            ),
            413: TOO_LARGE,
            415: NOT_JSON,
            **api_key_errors(),
            429: error_response(
                "Too many requests with this API key, or a new low-priority notification while the delivery queues "
                "it would use are backed up. Retry after `Retry-After` seconds.",
                RATE_LIMITED_EXAMPLE,
                error_example(
                    "load_shed",
                    "Low-priority notifications are refused while the email queue's backlog (51234 messages) is over "
                    "50000. Retry later, or send with a higher priority.",
                    {"priority": "Low priority is shed while the email backlog is over 50000 messages."},
                ),
            ),
        },
        examples=[
            OpenApiExample(
                "comment reply",
                request_only=True,
                value={
                    "category": "comment_reply",
                    "recipients": ["ada"],
                    "data": {"author": "Grace", "excerpt": "Nice work!"},
                    "priority": "high",
                    "channels": ["email", "in_app"],
                    "dedup_key": "post-17:new-comment",
                },
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        values = notification_create_validate(request.data)
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
        notification_shed_check(values["category"], values.get("priority"), values.get("channels", []))
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
        body = {"notifications": notification_summaries(result.notifications)}
        return Response(body, status=status.HTTP_202_ACCEPTED if result.created else status.HTTP_200_OK)


class NotificationDetailApi(APIView):
    @extend_schema(
        operation_id="notification_retrieve",
        tags=["notifications"],
        summary="A notification with each channel's delivery and attempts",
        description="An API key sees only the notifications it created.",
        parameters=[
            OpenApiParameter(
                "notification_id",
                OpenApiTypes.UUID,
                OpenApiParameter.PATH,
                examples=[OpenApiExample("example", value=EXAMPLE_ID)],
            ),
        ],
        responses={
            200: OpenApiResponse(
                NotificationDetailSerializer, "The notification and its deliveries.", [DETAIL_EXAMPLE]
            ),
            404: not_found("No such notification.", {"id": "Unknown notification."}),
            **api_key_errors(),
        },
    )
    def get(self, request: Request, notification_id: UUID) -> Response:
        notification = notification_get_for_api_key(request.auth, notification_id)
        if notification is None:
            raise ApiError(404, "not_found", "No such notification.", {"id": "Unknown notification."})
        return Response(NotificationDetailSerializer(notification).data)
