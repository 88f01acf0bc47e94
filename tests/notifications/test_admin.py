"""The admin, as a superuser sees it: every registered model's pages render, and API keys are
shown once and stored as a hash."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from delivery.models import Delivery, OutboxMessage, ProviderHealth
from digests.models import DigestItem, DigestTemplate
from notifications.api_keys import api_key_authenticate
from notifications.models import ApiKey, InboxItem
from tests import factories

PASSWORD = "correct horse battery staple"

REGISTERED = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)
REGISTERED_IDS = [model._meta.label for model, _ in REGISTERED]
SEARCHABLE = [(model, model_admin) for model, model_admin in REGISTERED if model_admin.search_fields]


@pytest.fixture
def superuser(db, settings):
    # The production hasher's deliberate slowness would dominate these tests.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user = factories.UserFactory(username="root", is_staff=True, is_superuser=True)
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    return user


@pytest.fixture
def superuser_client(superuser) -> Client:
    client = Client()
    assert client.login(username="root", password=PASSWORD)
    return client


@pytest.fixture
def one_of_everything(db) -> None:
    """At least one row of every model the admin shows."""
    category = factories.category_with_templates(slug="comment_reply", channels=("email", "in_app"))
    user = factories.UserFactory(username="ada")
    factories.NotificationSettingsFactory(user=user)
    factories.PreferenceFactory(user=user, category=category)
    factories.DeviceFactory(user=user)
    notification = factories.NotificationFactory(category=category, recipient=user)
    delivery = factories.DeliveryFactory(notification=notification, status=Delivery.Status.SENT)
    factories.DeliveryAttemptFactory(delivery=delivery, provider_message_id="<m@clarion>")
    InboxItem.objects.create(user=user, notification=notification, category=category, title="Hello")
    DigestItem.objects.create(
        user=user, category=category, channel="email", notification=notification, due_at=timezone.now()
    )
    DigestTemplate.objects.create(category=category, channel="email", subject="{{ count }} new", body="{{ count }}")
    OutboxMessage.objects.create(channel="email", reference=str(delivery.pk), to="ada@example.com", subject="Hi")
    ProviderHealth.objects.create(
        provider="twilio", state=ProviderHealth.State.OPEN, weight=0, failures=20, changed_at=timezone.now()
    )
    Group.objects.create(name="operators")
    interval = IntervalSchedule.objects.create(every=10, period=IntervalSchedule.SECONDS)
    CrontabSchedule.objects.create(minute="0", hour="3")
    SolarSchedule.objects.create(event="sunrise", latitude=48.85, longitude=2.35)
    ClockedSchedule.objects.create(clocked_time=timezone.now() + timedelta(days=1))
    PeriodicTask.objects.create(name="sweep", task="delivery.tasks.pipeline_sweep_task", interval=interval)


def admin_url(model, view: str, *args: object) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_admin_requires_a_staff_login(db):
    response = Client().get(reverse("admin:index"))

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_admin_index_lists_every_registered_model(superuser_client):
    response = superuser_client.get(reverse("admin:index"))

    assert response.status_code == 200
    for model, _ in REGISTERED:
        assert admin_url(model, "changelist") in response.content.decode()


@pytest.mark.parametrize(("model", "model_admin"), REGISTERED, ids=REGISTERED_IDS)
def test_changelist_renders(superuser_client, one_of_everything, model, model_admin):
    response = superuser_client.get(admin_url(model, "changelist"))

    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1


@pytest.mark.parametrize(("model", "model_admin"), SEARCHABLE, ids=[model._meta.label for model, _ in SEARCHABLE])
@pytest.mark.parametrize("query", ["ada", "1", "not-a-number", "%_'\"\\"])
def test_changelist_search_renders(superuser_client, one_of_everything, model, model_admin, query):
    response = superuser_client.get(admin_url(model, "changelist"), {"q": query})

    assert response.status_code == 200


@pytest.mark.parametrize(("model", "model_admin"), REGISTERED, ids=REGISTERED_IDS)
def test_add_page_renders_where_adding_is_allowed(superuser_client, superuser, rf, model, model_admin):
    request = rf.get("/")
    request.user = superuser

    response = superuser_client.get(admin_url(model, "add"))

    assert response.status_code == (200 if model_admin.has_add_permission(request) else 403)


@pytest.mark.parametrize(("model", "model_admin"), REGISTERED, ids=REGISTERED_IDS)
def test_change_page_renders_for_an_object(superuser_client, one_of_everything, model, model_admin):
    obj = model._default_manager.order_by("pk").first()
    assert obj is not None, f"one_of_everything makes no {model._meta.label}; add one"

    response = superuser_client.get(admin_url(model, "change", obj.pk))

    assert response.status_code == 200
    assert response.context["original"] == obj


def test_delivery_log_is_read_only(superuser_client, one_of_everything):
    delivery = Delivery.objects.get()

    response = superuser_client.post(admin_url(Delivery, "change", delivery.pk), {"status": "queued"})

    assert response.status_code == 403
    assert Delivery.objects.get().status == Delivery.Status.SENT


# --- API keys ------------------------------------------------------------------------------


def test_creating_an_api_key_shows_the_raw_key_once_and_stores_only_its_hash(superuser_client):
    response = superuser_client.post(admin_url(ApiKey, "add"), {"name": "billing"}, follow=True)

    assert response.status_code == 200
    key_messages = [str(m) for m in response.context["messages"] if "The new key is" in str(m)]
    assert len(key_messages) == 1
    raw_key = key_messages[0].split("The new key is ", 1)[1].split(" ", 1)[0]
    assert raw_key in response.content.decode()

    api_key = ApiKey.objects.get(name="billing")
    assert api_key.key_hash == hashlib.sha256(raw_key.encode()).hexdigest()
    assert raw_key.split("_")[1] == api_key.prefix
    stored = " ".join(str(getattr(api_key, f.attname)) for f in ApiKey._meta.concrete_fields)
    assert raw_key not in stored
    assert api_key_authenticate(raw_key) == api_key

    for url in (admin_url(ApiKey, "change", api_key.pk), admin_url(ApiKey, "changelist")):
        page = superuser_client.get(url)
        assert page.status_code == 200
        assert raw_key not in page.content.decode()


def test_revoke_action_revokes_the_selected_keys(superuser_client):
    keep = factories.ApiKeyFactory(name="keep")
    drop = factories.ApiKeyFactory(name="drop")

    response = superuser_client.post(
        admin_url(ApiKey, "changelist"), {"action": "revoke", "_selected_action": [drop.pk]}, follow=True
    )

    assert response.status_code == 200
    drop.refresh_from_db()
    keep.refresh_from_db()
    assert drop.revoked_at is not None
    assert keep.revoked_at is None
