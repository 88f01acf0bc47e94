"""The admin's own rules: staff only, a read-only delivery log, API keys shown once and stored
as a hash. Every model's pages and actions are smoke-tested in tests/test_admin_smoke.py."""

from __future__ import annotations

import hashlib

import pytest
from django.test import Client
from django.urls import reverse

from delivery.models import Delivery
from notifications.api_keys import api_key_authenticate
from notifications.models import ApiKey
from tests import factories

PASSWORD = "correct horse battery staple"


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


def admin_url(model, view: str, *args: object) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_admin_requires_a_staff_login(db):
    response = Client().get(reverse("admin:index"))

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_delivery_log_is_read_only(superuser_client):
    delivery = factories.DeliveryFactory(status=Delivery.Status.SENT)

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
