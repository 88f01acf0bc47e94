"""What every scenario needs in the bench database: users who can be reached on every channel,
one category per scenario role with a template on each of its channels, and an API key."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.management import call_command

from delivery.models import Device
from notifications.api_keys import api_key_create
from notifications.inbox_tokens import inbox_token_create
from notifications.models import ApiKey, Category, Template
from preferences.models import NotificationSettings

# slug: (kind, channels). Every category has one channel, so a notification is one delivery.
CATEGORIES: dict[str, tuple[str, list[str]]] = {
    "bench_email": (Category.Kind.TRANSACTIONAL, ["email"]),
    "bench_sms": (Category.Kind.TRANSACTIONAL, ["sms"]),
    "bench_push": (Category.Kind.TRANSACTIONAL, ["push"]),
    "bench_in_app": (Category.Kind.TRANSACTIONAL, ["in_app"]),
    "bench_marketing": (Category.Kind.MARKETING, ["email"]),
    "bench_security": (Category.Kind.SECURITY, ["email"]),
}
CHANNEL_CATEGORIES = ("bench_email", "bench_sms", "bench_push", "bench_in_app")

TEMPLATES: dict[str, dict[str, str]] = {
    "email": {
        "subject": "Bench message {{ n }}",
        "body": "Hello {{ recipient.name }}, this is message {{ n }}.",
        "html_body": "<p>Hello {{ recipient.name }}, this is message {{ n }}.</p>",
    },
    "sms": {"body": "Bench {{ n }} for {{ recipient.username }}"},
    "push": {"title": "Bench message {{ n }}", "body": "Hello {{ recipient.name }}"},
    "in_app": {"title": "Bench message {{ n }}", "body": "Hello {{ recipient.name }}", "action_url": "/bench/{{ n }}"},
}


def username(index: int) -> str:
    return f"bench_{index}"


@dataclass(frozen=True)
class Seeded:
    raw_api_key: str
    user_ids: list[int]  # by index: user_ids[i] is username(i)


def database_seed(user_count: int) -> Seeded:
    """Migrate, then create the categories, `user_count` users (email, phone, one device each)
    and a fresh API key."""
    call_command("migrate", verbosity=0)
    for slug, (kind, channels) in CATEGORIES.items():
        category, _ = Category.objects.update_or_create(
            slug=slug,
            defaults={
                "name": slug.replace("_", " ").title(),
                "kind": kind,
                "default_channels": channels,
                "sample_data": {"n": 1, "sent_at": 0.0},
                "dedup_window_seconds": 0,
            },
        )
        for channel in channels:
            Template.objects.update_or_create(
                category=category, channel=channel, locale="en", defaults=TEMPLATES[channel]
            )
    user_model = get_user_model()
    existing = set(user_model.objects.filter(username__startswith="bench_").values_list("username", flat=True))
    new_users = [
        user_model(username=username(i), email=f"{username(i)}@example.com", first_name="Bench", last_name=str(i))
        for i in range(user_count)
        if username(i) not in existing
    ]
    user_model.objects.bulk_create(new_users, batch_size=2000)
    by_name = dict(user_model.objects.filter(username__startswith="bench_").values_list("username", "pk"))
    user_ids = [by_name[username(i)] for i in range(user_count)]
    with_settings = set(NotificationSettings.objects.filter(user_id__in=user_ids).values_list("user_id", flat=True))
    NotificationSettings.objects.bulk_create(
        [
            NotificationSettings(user_id=pk, phone_number=f"+1555{i:07d}")
            for i, pk in enumerate(user_ids)
            if pk not in with_settings
        ],
        batch_size=2000,
    )
    with_devices = set(Device.objects.filter(user_id__in=user_ids).values_list("user_id", flat=True))
    Device.objects.bulk_create(
        [
            Device(user_id=pk, token=f"bench-device-{i}", platform=Device.Platform.ANDROID)
            for i, pk in enumerate(user_ids)
            if pk not in with_devices
        ],
        batch_size=2000,
    )
    return Seeded(raw_api_key=api_key_create("bench")[1], user_ids=user_ids)


def inbox_tokens(user_ids: list[int]) -> list[tuple[int, str]]:
    """An inbox token per user, minted with the bench's API key, as an app's backend would."""
    api_key = ApiKey.objects.filter(name="bench").latest("pk")
    users = get_user_model().objects.in_bulk(user_ids)
    return [(pk, inbox_token_create(users[pk], api_key, lifetime_seconds=7200).token) for pk in user_ids]
