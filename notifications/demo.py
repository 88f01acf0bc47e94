"""Demo data for `make run`: categories with templates on every channel, an end user and a
staff user. Loading it twice changes nothing."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from delivery.models import Device
from notifications.api_keys import api_key_create
from notifications.models import ApiKey, Category, Template
from preferences.models import NotificationSettings

DEMO_CATEGORIES = [
    {
        "slug": "comment_reply",
        "name": "Replies to your comments",
        "kind": Category.Kind.SOCIAL,
        "sample_data": {"author": "Ada", "post_title": "Release notes", "excerpt": "Nice work!", "url": "/posts/1"},
        "templates": {
            "email": {
                "subject": "{{ author }} replied to you on {{ post_title }}",
                "body": "{{ author }} wrote: {{ excerpt }}\n\nSee the thread: {{ url }}",
                "html_body": (
                    '<p><b>{{ author }}</b> wrote: {{ excerpt }}</p><p><a href="{{ url }}">See the thread</a></p>'
                ),
            },
            "sms": {"body": "{{ author }} replied on {{ post_title }}: {{ excerpt|truncatechars:80 }}"},
            "push": {"title": "{{ author }} replied", "body": "{{ excerpt|truncatechars:120 }}"},
            "in_app": {
                "title": "{{ author }} replied on {{ post_title }}",
                "body": "{{ excerpt }}",
                "action_url": "{{ url }}",
            },
        },
    },
    {
        "slug": "password_reset",
        "name": "Password reset codes",
        "kind": Category.Kind.SECURITY,
        "priority": "high",
        "default_channels": ["email", "sms"],
        "sample_data": {"code": "123456"},
        "templates": {
            "email": {"subject": "Your reset code", "body": "Your code is {{ code }}. It expires in 10 minutes."},
            "sms": {"body": "Your Clarion code is {{ code }}"},
            "push": {"title": "Your reset code", "body": "{{ code }}"},
            "in_app": {"title": "A password reset was requested", "body": "If it was not you, secure your account."},
        },
    },
    {
        "slug": "order_shipped",
        "name": "Order shipped",
        "kind": Category.Kind.TRANSACTIONAL,
        "sample_data": {"order": "A-1001", "carrier": "DHL"},
        "templates": {
            "email": {
                "subject": "Order {{ order }} is on its way",
                "body": "Your order {{ order }} shipped with {{ carrier }}.",
            },
            "sms": {"body": "Order {{ order }} shipped with {{ carrier }}."},
            "push": {"title": "Order shipped", "body": "{{ order }} is on its way"},
            "in_app": {
                "title": "Order {{ order }} shipped",
                "body": "With {{ carrier }}.",
                "action_url": "/orders/{{ order }}",
            },
        },
    },
    {
        "slug": "newsletter",
        "name": "Newsletter",
        "kind": Category.Kind.MARKETING,
        "priority": "low",
        "default_channels": ["email", "in_app"],
        "sample_data": {"issue": 12, "headline": "What's new"},
        "templates": {
            "email": {"subject": "Newsletter #{{ issue }}: {{ headline }}", "body": "{{ headline }}"},
            "sms": {"body": "Newsletter #{{ issue }}: {{ headline }}"},
            "push": {"title": "Newsletter #{{ issue }}", "body": "{{ headline }}"},
            "in_app": {"title": "Newsletter #{{ issue }}", "body": "{{ headline }}"},
        },
    },
]

DEMO_API_KEY_NAME = "demo"


@dataclass(frozen=True)
class DemoLoadResult:
    admin_username: str
    admin_password: str | None  # set only when the account was created now
    demo_username: str
    demo_password: str | None
    api_key: str | None  # set only when the key was created now


def _user(username: str, email: str, password: str | None, staff: bool) -> str | None:
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        return None
    password = password or secrets.token_urlsafe(12)
    if staff:
        user_model.objects.create_superuser(username=username, email=email, password=password)
    else:
        user_model.objects.create_user(username=username, email=email, password=password, first_name="Demo")
    return password


@transaction.atomic
def demo_load(admin_password: str | None = None, demo_password: str | None = None) -> DemoLoadResult:
    for spec in DEMO_CATEGORIES:
        defaults = {k: v for k, v in spec.items() if k not in {"slug", "templates"}}
        category, _ = Category.objects.get_or_create(slug=spec["slug"], defaults=defaults)
        for channel, fields in spec["templates"].items():
            template = Template.objects.filter(category=category, channel=channel, locale="en").first()
            if template is None:
                template = Template(category=category, channel=channel, locale="en", **fields)
                template.full_clean()
                template.save()

    created_admin_password = _user("admin", "admin@example.com", admin_password, staff=True)
    created_demo_password = _user("demo", "demo@example.com", demo_password, staff=False)
    demo_user = get_user_model().objects.get(username="demo")
    NotificationSettings.objects.get_or_create(user=demo_user, defaults={"phone_number": "+15555550100"})
    Device.objects.get_or_create(
        token="demo-device-token",  # noqa: S106 - a fake push token, not a secret
        defaults={"user": demo_user, "platform": Device.Platform.WEB},
    )

    raw_key = None
    if not ApiKey.objects.filter(name=DEMO_API_KEY_NAME).exists():
        _, raw_key = api_key_create(DEMO_API_KEY_NAME)
    return DemoLoadResult("admin", created_admin_password, "demo", created_demo_password, raw_key)
