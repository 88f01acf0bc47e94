"""factory_boy factories for every app's models."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from delivery.models import Delivery, DeliveryAttempt, Device
from notifications.api_keys import api_key_create
from notifications.models import ApiKey, Category, InboxItem, Notification, NotificationRequest, Template
from preferences.models import NotificationSettings, Preference


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    first_name = "Test"


class NotificationSettingsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NotificationSettings

    user = factory.SubFactory(UserFactory)
    phone_number = "+15555550123"


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ["slug"]

    slug = factory.Sequence(lambda n: f"category_{n}")
    name = factory.LazyAttribute(lambda category: category.slug.replace("_", " ").title())
    default_channels = factory.LazyFunction(lambda: ["email", "in_app"])
    sample_data = factory.LazyFunction(lambda: {"name": "Ada"})


class TemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Template

    category = factory.SubFactory(CategoryFactory)
    channel = "email"
    locale = "en"
    subject = "Hello {{ name }}"
    title = "Hello {{ name }}"
    body = "Hi {{ name }}, this is {{ recipient.username }}'s message."


class PreferenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Preference

    user = factory.SubFactory(UserFactory)
    category = factory.SubFactory(CategoryFactory)
    channel = "email"
    enabled = False


class DeviceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Device

    user = factory.SubFactory(UserFactory)
    token = factory.Sequence(lambda n: f"device-token-{n}")
    platform = Device.Platform.ANDROID


def category_with_templates(slug: str = "comment_reply", channels: tuple[str, ...] = ("email", "in_app"), **fields):
    """A category with a working template on each of `channels`."""
    category = CategoryFactory(slug=slug, default_channels=list(channels), **fields)
    for channel in channels:
        TemplateFactory(category=category, channel=channel)
    return category


def api_key(name: str = "test-app") -> str:
    return api_key_create(name)[1]


class ApiKeyFactory(factory.django.DjangoModelFactory):
    """A key row whose raw key nobody knows; for rows that need an owner, not for calls."""

    class Meta:
        model = ApiKey

    name = factory.Sequence(lambda n: f"app-{n}")
    prefix = factory.Sequence(lambda n: f"{n:08x}")
    key_hash = "0" * 64


class NotificationRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NotificationRequest

    api_key = factory.SubFactory(ApiKeyFactory)
    body_hash = "0" * 64


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notification

    request = factory.SubFactory(NotificationRequestFactory)
    category = factory.SubFactory(CategoryFactory)
    recipient = factory.SubFactory(UserFactory)
    data = factory.LazyFunction(lambda: {"name": "Ada"})


class DeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Delivery

    notification = factory.SubFactory(NotificationFactory)
    channel = "email"
    status = Delivery.Status.QUEUED
    queue = factory.LazyAttribute(lambda delivery: delivery.channel)
    content = factory.LazyFunction(lambda: {"to": "ada@example.com", "subject": "Hello", "body": "Hi"})


class DeliveryAttemptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DeliveryAttempt

    delivery = factory.SubFactory(DeliveryFactory)
    provider = "outbox"
    started_at = factory.LazyFunction(timezone.now)
    finished_at = factory.LazyAttribute(lambda attempt: attempt.started_at)
    outcome = DeliveryAttempt.Outcome.DELIVERED


class InboxItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InboxItem

    user = factory.SubFactory(UserFactory)
    notification = factory.SubFactory(
        NotificationFactory, recipient=factory.SelfAttribute("..user"), category=factory.SelfAttribute("..category")
    )
    category = factory.SubFactory(CategoryFactory, slug="comment_reply")
    title = factory.Sequence(lambda n: f"Item {n}")
    body = "Something happened."
