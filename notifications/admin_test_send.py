"""'Send a test to me': a template's message to the staff member looking at it, through the
same pipeline as every notification (accept, plan, render, route, deliver).

The notification belongs to an API key of its own, as every notification belongs to one; the
key's secret is discarded at creation, so nothing can call the API with it.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from notifications.api_keys import api_key_create
from notifications.models import ApiKey, Notification, Template
from notifications.rendering import template_sample_data
from notifications.services import AcceptRequest, body_hash, notification_accept

ADMIN_TEST_KEY_NAME = "admin: send a test to me"


def _admin_test_key() -> ApiKey:
    api_key = ApiKey.objects.filter(name=ADMIN_TEST_KEY_NAME, revoked_at__isnull=True).first()
    return api_key or api_key_create(ADMIN_TEST_KEY_NAME)[0]


def template_test_send(template: Template, user: AbstractBaseUser) -> Notification:
    """Accept a notification of the template's category for `user` on the template's channel,
    with the category's sample data. Raises AcceptError (e.g. the category is disabled).

    The pipeline treats it like any other: the user's preferences, quiet hours and caps apply
    (required categories bypass them), and the template is picked by the user's locale.
    """
    body = {
        "category": template.category.slug,
        "recipients": [str(user.pk)],
        "data": template_sample_data(template),
        "channels": [template.channel],
    }
    request = AcceptRequest(
        category=body["category"],
        recipients=body["recipients"],
        data=body["data"],
        channels=body["channels"],
        body_hash=body_hash(body),
    )
    return notification_accept(_admin_test_key(), request).notifications[0]
