"""Every API error has one shape: {"error": {"code", "message", "fields"}} (STYLE.md)."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from notifications.api_parsers import PayloadTooLarge

BODY_FIELD = "_body"
# How long a client is asked to wait when the database cannot be reached: about as long as a
# PostgreSQL restart or a failover takes.
DATABASE_RETRY_AFTER_SECONDS = 5
DATABASE_UNAVAILABLE_MESSAGE = (
    f"The database could not be reached. Retry after {DATABASE_RETRY_AFTER_SECONDS} seconds, with the same "
    "Idempotency-Key so that a request that did get through is not accepted twice."
)

logger = logging.getLogger(__name__)


class ApiError(exceptions.APIException):
    """A service-level refusal, with the fields it concerns."""

    def __init__(self, status_code: int, code: str, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.error_code = code
        self.fields = fields or {}


class RetryLater(ApiError):
    """A refusal to retry after `retry_after` seconds; DRF's exception handler turns `wait`
    into the Retry-After header."""

    def __init__(
        self, status_code: int, retry_after: int, code: str, message: str, fields: dict[str, str] | None = None
    ) -> None:
        super().__init__(status_code, code, message, fields)
        self.wait = max(1, retry_after)


class TooManyRequests(RetryLater):
    def __init__(self, retry_after: int, code: str, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(429, retry_after, code, message, fields)


def database_unavailable(error: OperationalError | InterfaceError) -> RetryLater:
    """A 503 for a database that could not be reached or gave up mid-statement (a restart, a
    failover, the pool's timeout): the client retries, where a 500 would say the server had
    failed in a way retrying may not mend."""
    logger.warning("database unavailable, answered 503: %s", error)
    return RetryLater(503, DATABASE_RETRY_AFTER_SECONDS, "database_unavailable", DATABASE_UNAVAILABLE_MESSAGE)


def error_body(code: str, message: str, fields: dict[str, str] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _flatten(detail: Any, prefix: str = "") -> dict[str, str]:
    """Turn DRF's nested error detail into {"recipients.3": "message", ...}."""
    if isinstance(detail, dict):
        flat: dict[str, str] = {}
        for key, value in detail.items():
            name = BODY_FIELD if key == "non_field_errors" else str(key)
            flat.update(_flatten(value, f"{prefix}.{name}" if prefix else name))
        return flat
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return {prefix or BODY_FIELD: " ".join(str(item) for item in detail)}
        flat = {}
        for index, item in enumerate(detail):
            if item:
                flat.update(_flatten(item, f"{prefix}.{index}" if prefix else str(index)))
        return flat
    return {prefix or BODY_FIELD: str(detail)}


CODES_BY_EXCEPTION: list[tuple[type[exceptions.APIException], str]] = [
    (exceptions.NotAuthenticated, "missing_api_key"),
    (exceptions.AuthenticationFailed, "invalid_api_key"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotFound, "not_found"),
    (exceptions.PermissionDenied, "permission_denied"),
    (exceptions.Throttled, "throttled"),
    (exceptions.NotAcceptable, "not_acceptable"),
]


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, RequestDataTooBig):
        # DRF reads `request.body` before any parser runs, and Django refuses a
        # Content-Length over DATA_UPLOAD_MAX_MEMORY_SIZE there, before our parser's cap.
        exc = PayloadTooLarge(f"The request body exceeds {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.")
    elif isinstance(exc, OperationalError | InterfaceError):
        exc = database_unavailable(exc)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ApiError):
        body = error_body(exc.error_code, str(exc.detail), exc.fields)
    elif isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        first = next(iter(fields.items()))
        body = error_body("invalid", f"{first[0]}: {first[1]}", fields)
    elif isinstance(exc, exceptions.ParseError):
        body = error_body("malformed_json", str(exc.detail), {BODY_FIELD: str(exc.detail)})
    else:
        code = next((code for kind, code in CODES_BY_EXCEPTION if isinstance(exc, kind)), None)
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        body = error_body(code or str(getattr(exc, "default_code", "error")), str(detail))
        if isinstance(exc, exceptions.UnsupportedMediaType):
            body["error"]["fields"] = {"Content-Type": "Send the body as application/json."}
    response.data = body
    return response


def not_found_view(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if not request.path.startswith("/api/"):
        return defaults.page_not_found(request, exception)
    return JsonResponse(
        error_body("not_found", f"No such path: {request.path[:200]}"), status=status.HTTP_404_NOT_FOUND
    )


def bad_request_view(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's own 400s (a Host header not in ALLOWED_HOSTS, a broken multipart body) in
    the API's error shape; the field is the request itself, as nothing else was read."""
    if not request.path.startswith("/api/"):
        return defaults.bad_request(request, exception)
    return JsonResponse(
        error_body("bad_request", "The request could not be read (check the Host header).", {"_request": "Invalid."}),
        status=status.HTTP_400_BAD_REQUEST,
    )


def server_error_view(request: HttpRequest) -> HttpResponse:
    if not request.path.startswith("/api/"):
        return defaults.server_error(request)
    return JsonResponse(error_body("server_error", "Something went wrong on our side."), status=500)
