"""`/api/v1/devices`: push tokens, registered by apps (API key, naming the user) or by a
signed-in user's own browser or app (session)."""

from __future__ import annotations

from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from delivery.devices import device_register, device_unregister
from delivery.models import Device
from notifications.api_auth import ApiClient, ApiKeyAuthentication
from notifications.api_errors import ApiError
from notifications.services import recipients_resolve


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


class DeviceListApi(DeviceAuthMixin, APIView):
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
    def delete(self, request: Request, token: str) -> Response:
        owner = None if self.is_app(request) else request.user
        if not device_unregister(token, user=owner):
            raise ApiError(404, "not_found", "No such device.", {"token": "Unknown device."})
        return Response(status=status.HTTP_204_NO_CONTENT)
