"""`/api/v1/users/{id}/preferences` for apps (API key), with the page's validation."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications.api_errors import ApiError
from notifications.api_schema import NOT_JSON, TOO_LARGE, USER_ID, api_key_errors, error_example, invalid, not_found
from preferences.api_schema import SNAPSHOT_EXAMPLE, UPDATE_EXAMPLE, PreferencesSerializer, PreferencesUpdateSerializer
from preferences.selectors import preferences_snapshot
from preferences.services import preferences_update
from preferences.validation import SettingsError


def _user(user_id: int) -> AbstractBaseUser:
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise ApiError(404, "not_found", "No such user.", {"id": "Unknown user."})
    return user


SNAPSHOT = OpenApiResponse(PreferencesSerializer, "The user's settings and choices.", [SNAPSHOT_EXAMPLE])
USER_NOT_FOUND = not_found("No such user.", {"id": "Unknown user."})
INVALID_SETTINGS = invalid(
    error_example(
        "invalid",
        "timezone: Use an IANA time zone such as Europe/Paris.",
        {"timezone": "Use an IANA time zone such as Europe/Paris.", "quiet_hours.end": "Use HH:MM, e.g. 22:00."},
    )
)
UPDATE_ERRORS = {400: INVALID_SETTINGS, 404: USER_NOT_FOUND, 413: TOO_LARGE, 415: NOT_JSON, **api_key_errors()}


class UserPreferencesApi(APIView):
    @extend_schema(
        operation_id="user_preferences_retrieve",
        tags=["preferences"],
        summary="A user's settings and per category × channel choices",
        parameters=[USER_ID],
        responses={200: SNAPSHOT, 404: USER_NOT_FOUND, **api_key_errors()},
    )
    def get(self, request: Request, user_id: int) -> Response:
        return Response(preferences_snapshot(_user(user_id)).as_json())

    @extend_schema(
        operation_id="user_preferences_replace",
        tags=["preferences"],
        summary="Replace a user's settings: what the body leaves out returns to its default",
        parameters=[USER_ID],
        request=PreferencesUpdateSerializer,
        examples=[UPDATE_EXAMPLE],
        responses={200: SNAPSHOT, **UPDATE_ERRORS},
    )
    def put(self, request: Request, user_id: int) -> Response:
        return self._update(request, user_id, replace=True)

    @extend_schema(
        operation_id="user_preferences_update",
        tags=["preferences"],
        summary="Change the settings the body names",
        parameters=[USER_ID],
        request=PreferencesUpdateSerializer,
        examples=[UPDATE_EXAMPLE],
        responses={200: SNAPSHOT, **UPDATE_ERRORS},
    )
    def patch(self, request: Request, user_id: int) -> Response:
        return self._update(request, user_id, replace=False)

    def _update(self, request: Request, user_id: int, replace: bool) -> Response:
        user = _user(user_id)
        if not isinstance(request.data, dict):
            raise ApiError(400, "invalid", "The body must be a JSON object.", {"_body": "Expected an object."})
        try:
            preferences_update(user, dict(request.data), replace=replace)
        except SettingsError as error:
            first = next(iter(error.fields.items()))
            raise ApiError(400, "invalid", f"{first[0]}: {first[1]}", error.fields) from error
        return Response(preferences_snapshot(user).as_json())
