"""`/api/v1/users/{id}/preferences` for apps (API key), with the page's validation."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications.api_errors import ApiError
from preferences.selectors import preferences_snapshot
from preferences.services import preferences_update
from preferences.validation import SettingsError


def _user(user_id: int) -> AbstractBaseUser:
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise ApiError(404, "not_found", "No such user.", {"id": "Unknown user."})
    return user


class UserPreferencesApi(APIView):
    def get(self, request: Request, user_id: int) -> Response:
        return Response(preferences_snapshot(_user(user_id)).as_json())

    def put(self, request: Request, user_id: int) -> Response:
        return self._update(request, user_id, replace=True)

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
