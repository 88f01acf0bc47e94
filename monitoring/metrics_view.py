"""GET /metrics for Prometheus: a bearer token (CLARION_METRICS_TOKEN) or a staff session."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from monitoring.metrics import metrics_exposition
from notifications.api_errors import error_body

BEARER = "bearer "


def _bearer_token(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    return header[len(BEARER) :].strip() if header.lower().startswith(BEARER) else None


def _refusal(request: HttpRequest) -> JsonResponse | None:
    """Why the request may not read the metrics, or None when it may."""
    token = _bearer_token(request)
    if token is not None:
        expected = settings.CLARION_METRICS_TOKEN
        # Constant time, so the token cannot be guessed a character at a time.
        if expected and hmac.compare_digest(token.encode(), expected.encode()):
            return None
        return JsonResponse(error_body("invalid_token", "This bearer token may not read the metrics."), status=403)
    user = request.user
    if user.is_authenticated and user.is_staff:
        return None
    if user.is_authenticated:
        return JsonResponse(error_body("permission_denied", "Only staff may read the metrics."), status=403)
    response = JsonResponse(
        error_body("not_authenticated", "Send Authorization: Bearer <CLARION_METRICS_TOKEN>, or sign in as staff."),
        status=401,
    )
    response["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


def metrics_view(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        response = JsonResponse(error_body("method_not_allowed", f"{request.method} is not allowed."), status=405)
        response["Allow"] = "GET, HEAD"
        return response
    refusal = _refusal(request)
    if refusal is not None:
        return refusal
    body, content_type = metrics_exposition(request.headers.get("Accept"))
    return HttpResponse(body, content_type=content_type)
