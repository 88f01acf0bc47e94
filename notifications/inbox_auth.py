"""Who may use the inbox API: the signed-in user (session, with CSRF on writes), or an app's
front end with `Authorization: Inbox-Token <token>`. Either way the caller is one end user,
and sees only that user's items. API keys are not accepted here: an app acts for a user only
through a token it minted for that user."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request
from rest_framework.views import APIView

from notifications.api_errors import ApiError
from notifications.inbox_tokens import inbox_token_authenticate

KEYWORD = "Inbox-Token"


class InboxAuthenticationFailed(ApiError, exceptions.AuthenticationFailed):
    """A 401 in the shared error shape that DRF still treats as an authentication failure
    (so the response carries WWW-Authenticate)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(401, code, message)


class InboxNotAuthenticated(ApiError, exceptions.NotAuthenticated):
    def __init__(self) -> None:
        super().__init__(401, "not_authenticated", f"Sign in, or send the header 'Authorization: {KEYWORD} <token>'.")


class InboxTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[AbstractBaseUser, str] | None:
        keyword, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if keyword != KEYWORD:
            return None  # another scheme, or none: the session may still authenticate
        user = inbox_token_authenticate(token.strip())
        if user is None:
            raise InboxAuthenticationFailed("invalid_inbox_token", "The inbox token is invalid or expired.")
        return user, token.strip()

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


class IsInboxUser(permissions.BasePermission):
    """An end user, by session or token. CORS preflights (OPTIONS) carry no credentials."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if request.method == "OPTIONS":
            return True
        return isinstance(request.user, AbstractBaseUser) and request.user.is_authenticated
