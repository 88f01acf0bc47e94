"""The inbox API under /api/v1/inbox/, for one end user (session or inbox token), and
`POST /api/v1/users/{id}/inbox-token` for apps (API key) to mint that token."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.http import QueryDict
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications.api_errors import ApiError
from notifications.api_schema import (
    CSRF_REFUSED,
    INBOX_REFUSED,
    NOT_JSON,
    TOO_LARGE,
    USER_ID,
    api_key_errors,
    error_example,
    error_response,
    invalid,
    not_found,
)
from notifications.inbox import inbox_counts, inbox_item_payload
from notifications.inbox_api_schema import (
    COUNTS_EXAMPLE,
    FEED_EXAMPLE,
    ITEM_EXAMPLE,
    ITEM_ID,
    MARK,
    TOKEN_EXAMPLE,
    InboxCountsSerializer,
    InboxFeedPageSerializer,
    InboxItemMarkedSerializer,
    InboxItemSerializer,
    InboxItemsMarkedSerializer,
    InboxTokenSerializer,
)
from notifications.inbox_auth import InboxNotAuthenticated, InboxTokenAuthentication, IsInboxUser
from notifications.inbox_feed import MAX_ID, FeedFilter, InvalidCursor, inbox_feed_page, inbox_item_get
from notifications.inbox_marks import InboxMark, UnknownItems, inbox_mark
from notifications.inbox_tokens import inbox_token_create

MAX_PAGE_SIZE = 100
MAX_IDS = 500


class FeedQuerySerializer(serializers.Serializer):
    unread = serializers.BooleanField(required=False, allow_null=True, default=None)
    archived = serializers.BooleanField(required=False, default=False)
    category = serializers.CharField(required=False, max_length=100, allow_blank=True, default="")
    cursor = serializers.CharField(required=False, max_length=200, allow_blank=True, default="")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE_SIZE, default=20)


class MarkManySerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        allow_empty=False,
        max_length=MAX_IDS,
    )
    all = serializers.BooleanField(required=False, default=False)

    def validate(self, values: dict[str, Any]) -> dict[str, Any]:
        if ("ids" in values) == values["all"]:
            raise serializers.ValidationError('Send either "ids": [...] or "all": true.')
        return values


ITEM_NOT_FOUND = not_found("No such inbox item.", {"id": "Unknown item: 1017."})


def inbox_schema(**kwargs: Any) -> Any:
    """`extend_schema` with what every inbox operation shares: its tag, who may call it and
    its refusals."""
    responses = {**kwargs.pop("responses"), 401: INBOX_REFUSED}
    description = " ".join(
        [
            kwargs.pop("description", ""),
            "For one end user: a signed-in session (with `X-CSRFToken` on POST) or `Authorization: Inbox-Token "
            "<token>`. Answers CORS requests from any origin.",
        ]
    ).strip()
    return extend_schema(tags=["inbox"], responses=responses, description=description, **kwargs)


def _not_found(item_id: object) -> ApiError:
    return ApiError(404, "not_found", "No such inbox item.", {"id": f"Unknown item: {item_id}."})


class InboxApiView(APIView):
    """Base of the inbox endpoints. They answer CORS requests from any origin: credentials
    travel in the Authorization header, never in cookies, for cross-origin callers, so an
    origin gains nothing it did not already hold a token for."""

    authentication_classes = [InboxTokenAuthentication, SessionAuthentication]
    permission_classes = [IsInboxUser]

    def permission_denied(self, request: Request, message: str | None = None, code: str | None = None) -> None:
        if request.authenticators and not request.successful_authenticator:
            raise InboxNotAuthenticated()
        super().permission_denied(request, message, code)

    def options(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = Response(status=status.HTTP_204_NO_CONTENT)
        response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
        response["Access-Control-Max-Age"] = "600"
        return response

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Access-Control-Allow-Origin"] = "*"
        return response


class InboxItemListApi(InboxApiView):
    @inbox_schema(
        operation_id="inbox_items_list",
        summary="The user's feed, newest first, a page at a time",
        parameters=[FeedQuerySerializer],
        responses={
            200: OpenApiResponse(InboxFeedPageSerializer, "A page of the feed, with the counts.", [FEED_EXAMPLE]),
            400: error_response(
                "A query parameter is invalid, or the cursor is not one this API returned.",
                error_example(
                    "invalid",
                    "limit: Ensure this value is less than or equal to 100.",
                    {"limit": "Ensure this value is less than or equal to 100."},
                ),
                error_example(
                    "invalid_cursor", "The cursor is not one this API returned.", {"cursor": "Invalid cursor."}
                ),
            ),
        },
    )
    def get(self, request: Request) -> Response:
        query = FeedQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        values = query.validated_data
        feed_filter = FeedFilter(
            unread=values["unread"], archived=values["archived"], category=values["category"] or None
        )
        try:
            page = inbox_feed_page(request.user.pk, feed_filter, values["limit"], values["cursor"] or None)
        except InvalidCursor as error:
            raise ApiError(
                400, "invalid_cursor", "The cursor is not one this API returned.", {"cursor": "Invalid cursor."}
            ) from error
        return Response(
            {
                "items": [inbox_item_payload(item) for item in page.items],
                "next_cursor": page.next_cursor,
                "counts": inbox_counts(request.user.pk).as_json(),
            }
        )


class InboxCountsApi(InboxApiView):
    @inbox_schema(
        operation_id="inbox_counts_retrieve",
        summary="Unseen, unread and total items in the feed",
        responses={200: OpenApiResponse(InboxCountsSerializer, "", [OpenApiExample("counts", value=COUNTS_EXAMPLE)])},
    )
    def get(self, request: Request) -> Response:
        return Response(inbox_counts(request.user.pk).as_json())


class InboxItemDetailApi(InboxApiView):
    @inbox_schema(
        operation_id="inbox_item_retrieve",
        summary="One of the user's items",
        parameters=[ITEM_ID],
        responses={
            200: OpenApiResponse(InboxItemSerializer, "", [OpenApiExample("item", value=ITEM_EXAMPLE)]),
            404: ITEM_NOT_FOUND,
        },
    )
    def get(self, request: Request, item_id: int) -> Response:
        item = inbox_item_get(request.user.pk, item_id)
        if item is None:
            raise _not_found(item_id)
        return Response(inbox_item_payload(item))


class InboxItemMarkApi(InboxApiView):
    @inbox_schema(
        operation_id="inbox_item_mark",
        summary="Mark one item read, unread, seen, archived or unarchived",
        parameters=[ITEM_ID, MARK],
        request=None,
        responses={
            200: OpenApiResponse(
                InboxItemMarkedSerializer,
                "The item as it is now, with the counts.",
                [OpenApiExample("read", value={"item": {**ITEM_EXAMPLE, "read": True}, "counts": COUNTS_EXAMPLE})],
            ),
            403: CSRF_REFUSED,
            404: ITEM_NOT_FOUND,
        },
    )
    def post(self, request: Request, item_id: int, mark: str) -> Response:
        if not 0 < item_id <= MAX_ID:
            raise _not_found(item_id)
        try:
            result = inbox_mark(request.user.pk, InboxMark(mark), [item_id])
        except UnknownItems as error:
            raise _not_found(item_id) from error
        item = inbox_item_get(request.user.pk, item_id)
        if item is None:  # deleted since it was marked
            raise _not_found(item_id)
        return Response({"item": inbox_item_payload(item), "counts": result.counts.as_json()})


class InboxMarkManyApi(InboxApiView):
    @inbox_schema(
        operation_id="inbox_items_mark",
        summary="Mark some items, or all of them",
        description='Send either `{"ids": [...]}` (up to 500 of the user\'s items) or `{"all": true}`.',
        parameters=[MARK],
        request=MarkManySerializer,
        examples=[
            OpenApiExample("some", value={"ids": [1017, 1018]}, request_only=True),
            OpenApiExample("all", value={"all": True}, request_only=True),
        ],
        responses={
            200: OpenApiResponse(
                InboxItemsMarkedSerializer,
                "How many items changed, and the counts.",
                [OpenApiExample("marked", value={"updated": 2, "counts": COUNTS_EXAMPLE})],
            ),
            400: invalid(
                error_example(
                    "invalid",
                    'Send either "ids": [...] or "all": true.',
                    {"_body": 'Send either "ids": [...] or "all": true.'},
                )
            ),
            403: CSRF_REFUSED,
            404: not_found("No such inbox items: 99.", {"ids": "Unknown items: 99."}),
            413: TOO_LARGE,
            415: NOT_JSON,
        },
    )
    def post(self, request: Request, mark: str) -> Response:
        # A POST without a body arrives as an empty QueryDict, whose form semantics would
        # read a missing "all" as false rather than absent.
        body = {} if isinstance(request.data, QueryDict) else request.data
        serializer = MarkManySerializer(data=body)
        serializer.is_valid(raise_exception=True)
        ids = serializer.validated_data.get("ids")
        try:
            result = inbox_mark(request.user.pk, InboxMark(mark), ids)
        except UnknownItems as error:
            shown = ", ".join(str(item_id) for item_id in error.ids[:20])
            raise ApiError(
                404, "not_found", f"No such inbox items: {shown}.", {"ids": f"Unknown items: {shown}."}
            ) from error
        return Response({"updated": result.updated, "counts": result.counts.as_json()})


class UserInboxTokenApi(APIView):
    """An app (API key) mints a token for one of its users' front ends."""

    @extend_schema(
        operation_id="user_inbox_token_create",
        tags=["inbox"],
        summary="Mint an inbox token for one user's front end",
        description="The token opens that user's inbox API and websocket, and nothing else; it expires after "
        "`CLARION_INBOX_TOKEN_SECONDS` and dies with the API key that minted it.",
        parameters=[USER_ID],
        request=None,
        responses={
            201: OpenApiResponse(InboxTokenSerializer, "The token and when it expires.", [TOKEN_EXAMPLE]),
            404: not_found("No such user.", {"id": "Unknown user."}),
            **api_key_errors(),
        },
    )
    def post(self, request: Request, user_id: int) -> Response:
        user = None
        if 0 < user_id <= MAX_ID:
            user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
        if user is None:
            raise ApiError(404, "not_found", "No such user.", {"id": "Unknown user."})
        token = inbox_token_create(user, api_key=request.auth)
        return Response(
            {"token": token.token, "expires_at": token.expires_at.isoformat()}, status=status.HTTP_201_CREATED
        )
