"""The references' accept endpoints. Both take the body Clarion's API takes
(`{"category", "recipients": [usernames], "data"}`) with the same API key.

naive: every recipient looked up, every notification inserted and its chain published, one
at a time, with no transaction. ceiling: the least an accept can do: one query for the
recipients and one bulk insert, no validation beyond that and no pipeline.
"""

from __future__ import annotations

import json

from django.contrib.auth import get_user_model
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from notifications.api_keys import api_key_authenticate
from notifications.models import ApiKey, Category, Notification, NotificationRequest


def _request(request: HttpRequest) -> tuple[ApiKey, Category, dict] | JsonResponse:
    keyword, _, raw_key = request.headers.get("Authorization", "").partition(" ")
    api_key = api_key_authenticate(raw_key.strip()) if keyword == "Api-Key" else None
    if api_key is None:
        return JsonResponse({"error": {"code": "invalid_api_key"}}, status=401)
    try:
        body = json.loads(request.body)
        category = Category.objects.get(slug=body["category"])
    except (ValueError, KeyError, TypeError, Category.DoesNotExist):
        return JsonResponse({"error": {"code": "invalid"}}, status=400)
    return api_key, category, body


@csrf_exempt
@require_POST
def naive_accept(request: HttpRequest) -> JsonResponse:
    from bench.naive_pipeline import naive_pipeline_start

    parsed = _request(request)
    if isinstance(parsed, JsonResponse):
        return parsed
    api_key, category, body = parsed
    accepted = NotificationRequest.objects.create(api_key=api_key, body_hash="")
    user_model = get_user_model()
    ids = []
    for username in body["recipients"]:
        recipient = user_model.objects.filter(username=username).first()
        if recipient is None:
            return JsonResponse({"error": {"code": "unknown_recipients"}}, status=400)
        notification = Notification.objects.create(
            request=accepted, category=category, recipient=recipient, data=body.get("data", {})
        )
        naive_pipeline_start(str(notification.pk))
        ids.append(str(notification.pk))
    return JsonResponse({"notifications": [{"id": pk} for pk in ids]}, status=202)


@csrf_exempt
@require_POST
def ceiling_accept(request: HttpRequest) -> JsonResponse:
    parsed = _request(request)
    if isinstance(parsed, JsonResponse):
        return parsed
    api_key, category, body = parsed
    users = dict(get_user_model().objects.filter(username__in=body["recipients"]).values_list("username", "pk"))
    if len(users) != len(set(body["recipients"])):
        return JsonResponse({"error": {"code": "unknown_recipients"}}, status=400)
    accepted = NotificationRequest.objects.create(api_key=api_key, body_hash="")
    data = body.get("data", {})
    Notification.objects.bulk_create(
        [Notification(request=accepted, category=category, recipient_id=pk, data=data) for pk in users.values()],
        batch_size=1000,
    )
    return JsonResponse({"request": accepted.pk, "notifications": len(users)}, status=202)
