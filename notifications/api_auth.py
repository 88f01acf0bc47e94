"""`Authorization: Api-Key <key>` for calling apps."""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from notifications.api_keys import api_key_authenticate
from notifications.models import ApiKey

KEYWORD = "Api-Key"


@dataclass(frozen=True)
class ApiClient:
    """The caller behind an API key; it stands where DRF expects a user."""

    api_key: ApiKey
    is_authenticated: bool = True
    is_anonymous: bool = False


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ApiClient, ApiKey] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        keyword, _, raw_key = header.partition(" ")
        if keyword != KEYWORD or not raw_key.strip():
            raise exceptions.AuthenticationFailed(
                "Use the header 'Authorization: Api-Key <key>'.", code="invalid_api_key"
            )
        api_key = api_key_authenticate(raw_key.strip())
        if api_key is None:
            raise exceptions.AuthenticationFailed("The API key is unknown or revoked.", code="invalid_api_key")
        return ApiClient(api_key=api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD
