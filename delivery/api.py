"""`/api/v1/devices`: push tokens, registered by apps (API key, naming the user) or by a
signed-in user's own browser or app (session)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from delivery.devices import device_register, device_unregister
from delivery.models import Device
from notifications.api_auth import ApiClient, ApiKeyAuthentication
from notifications.api_errors import ApiError
from notifications.api_schema import (
    CSRF_REFUSED,
    NOT_JSON,
    TOO_LARGE,
    api_key_errors,
    error_example,
    invalid,
    not_found,
)
from notifications.recipients import recipients_resolve


class DeviceInputSerializer(serializers.Serializer):
    user = serializers.CharField(max_length=254, required=False)
    token = serializers.CharField(max_length=512)
    platform = serializers.ChoiceField(choices=Device.Platform.choices)


class DeviceOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Device
        fields = ["id", "user", "token", "platform", "active", "created_at", "last_seen_at"]


class DeviceAuthMixin:
    authentication_classes = [ApiKeyAuthentication, SessionAuthentication]

    @staticmethod
    def is_app(request: Request) -> bool:
        return isinstance(request.user, ApiClient)


DEVICE_EXAMPLE = {
    "id": 7,
    "user": 42,
    "token": "fcm-registration-token",
    "platform": "android",
    "active": True,
    "created_at": "2026-01-01T12:00:00Z",
    "last_seen_at": "2026-01-01T12:00:00Z",
}


class DeviceListApi(DeviceAuthMixin, APIView):
    @extend_schema(
        operation_id="device_register",
        tags=["devices"],
        summary="Register a push token",
        description="Apps (API key) name the user; a signed-in user's own page or app (session, with CSRF) "
        "omits `user`. A token registered again under another user moves to that user.",
        request=DeviceInputSerializer,
        examples=[
            OpenApiExample(
                "app",
                request_only=True,
                value={"user": "ada", "token": "fcm-registration-token", "platform": "android"},
            )
        ],
        responses={
            201: OpenApiResponse(
                DeviceOutputSerializer, "Registered.", [OpenApiExample("device", value=DEVICE_EXAMPLE)]
            ),
            200: OpenApiResponse(DeviceOutputSerializer, "Already registered; now the named user's and active."),
            400: invalid(
                error_example("invalid", "user: Name the user the device belongs to.", {"user": "Required."}),
                error_example("unknown_user", "No user 'bob'.", {"user": "Unknown user."}),
            ),
            403: CSRF_REFUSED,
            413: TOO_LARGE,
            415: NOT_JSON,
            **api_key_errors(),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = DeviceInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        if self.is_app(request):
            if "user" not in values:
                raise ApiError(400, "invalid", "user: Name the user the device belongs to.", {"user": "Required."})
            users, _ = recipients_resolve([values["user"]])
            if not users:
                raise ApiError(400, "unknown_user", f"No user '{values['user']}'.", {"user": "Unknown user."})
            user = users[0]
        else:
            if "user" in values:
                raise ApiError(400, "invalid", "user: A signed-in user registers their own devices.", {"user": "Omit."})
            user = request.user
        device, created = device_register(user, values["token"], values["platform"])
        return Response(
            DeviceOutputSerializer(device).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class DeviceDetailApi(DeviceAuthMixin, APIView):
    @extend_schema(
        operation_id="device_unregister",
        tags=["devices"],
        summary="Remove a push token",
        description="Apps may remove any token; a signed-in user only their own.",
        parameters=[
            OpenApiParameter(
                "token",
                str,
                OpenApiParameter.PATH,
                examples=[OpenApiExample("example", value=DEVICE_EXAMPLE["token"])],
            )
        ],
        request=None,
        responses={
            204: OpenApiResponse(None, "Removed."),
            403: CSRF_REFUSED,
            404: not_found("No such device.", {"token": "Unknown device."}),
            **api_key_errors(),
        },
    )
    def delete(self, request: Request, token: str) -> Response:
        owner = None if self.is_app(request) else request.user
        # No stored token holds a NUL (PostgreSQL text cannot), and PostgreSQL refuses to look one up.
        if "\x00" in token or not device_unregister(token, user=owner):
            raise ApiError(404, "not_found", "No such device.", {"token": "Unknown device."})
        return Response(status=status.HTTP_204_NO_CONTENT)
