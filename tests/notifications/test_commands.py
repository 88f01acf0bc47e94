"""Management commands: API keys from the shell, and the demo data loader."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from delivery.models import Device
from notifications.models import ApiKey, Category, Template
from preferences.models import NotificationSettings
from tests import factories


@pytest.fixture(autouse=True)
def fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def post_status(raw_key: str, recipient: str = "ada") -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    body = {"category": "comment_reply", "recipients": [recipient]}
    return client.post("/api/v1/notifications", body, format="json").status_code


@pytest.fixture
def world(db) -> None:
    factories.category_with_templates(slug="comment_reply")
    factories.UserFactory(username="ada")


# --- clarion_apikey ------------------------------------------------------------------------


def test_apikey_create_prints_a_key_that_authenticates(world):
    output = run("clarion_apikey", "create", "billing")

    header, raw_key = output.strip().splitlines()
    api_key = ApiKey.objects.get(name="billing")
    assert f"prefix {api_key.prefix}" in header
    assert raw_key.startswith(f"clr_{api_key.prefix}_")
    assert raw_key not in api_key.key_hash
    assert post_status(raw_key) == 202


def test_apikey_revoke_makes_the_key_fail(world):
    raw_key = run("clarion_apikey", "create", "billing").strip().splitlines()[-1]
    prefix = raw_key.split("_")[1]

    output = run("clarion_apikey", "revoke", prefix)

    assert f"Revoked 'billing' ({prefix})" in output
    assert ApiKey.objects.get(prefix=prefix).revoked_at is not None
    assert post_status(raw_key) == 401


def test_apikey_revoke_of_an_unknown_or_revoked_prefix_is_an_error(db):
    raw_key = run("clarion_apikey", "create", "billing").strip().splitlines()[-1]
    prefix = raw_key.split("_")[1]
    run("clarion_apikey", "revoke", prefix)

    with pytest.raises(CommandError, match="No active key"):
        run("clarion_apikey", "revoke", prefix)
    with pytest.raises(CommandError, match="No active key"):
        run("clarion_apikey", "revoke", "deadbeef")


def test_apikey_needs_an_action(db):
    with pytest.raises(CommandError):
        run("clarion_apikey")


# --- clarion_demo --------------------------------------------------------------------------


def counts() -> dict[str, int]:
    return {
        "users": get_user_model().objects.count(),
        "categories": Category.objects.count(),
        "templates": Template.objects.count(),
        "api_keys": ApiKey.objects.count(),
        "settings": NotificationSettings.objects.count(),
        "devices": Device.objects.count(),
    }


def shown(output: str, label: str) -> str | None:
    for line in output.splitlines():
        if line.strip().startswith(label):
            return line.split(":", 1)[1].strip().removesuffix("(shown once)").strip()
    return None


def test_demo_is_idempotent_and_shows_secrets_only_the_first_time(db, monkeypatch):
    monkeypatch.delenv("CLARION_ADMIN_PASSWORD", raising=False)
    monkeypatch.delenv("CLARION_DEMO_PASSWORD", raising=False)

    first = run("clarion_demo")
    after_first = counts()
    second = run("clarion_demo")

    assert counts() == after_first
    assert after_first == {"users": 2, "categories": 4, "templates": 16, "api_keys": 1, "settings": 1, "devices": 1}
    staff_username, staff_password = shown(first, "staff user").split(" / ")
    demo_username, demo_password = shown(first, "end user").split(" / ")
    raw_key = shown(first, "API key")
    assert authenticate(username=staff_username, password=staff_password).is_superuser
    assert authenticate(username=demo_username, password=demo_password) is not None
    assert post_status(raw_key, recipient=demo_username) == 202

    assert "Demo data is loaded." in second
    for secret in (staff_password, demo_password, raw_key):
        assert secret not in second
    assert shown(second, "staff user") is None
    assert shown(second, "API key") is None


def test_demo_uses_passwords_from_the_environment(db, monkeypatch):
    monkeypatch.setenv("CLARION_ADMIN_PASSWORD", "admin-pass-from-env")
    monkeypatch.setenv("CLARION_DEMO_PASSWORD", "demo-pass-from-env")

    run("clarion_demo")

    assert authenticate(username="admin", password="admin-pass-from-env") is not None
    assert authenticate(username="demo", password="demo-pass-from-env") is not None


def test_demo_templates_are_valid(db, monkeypatch):
    monkeypatch.delenv("CLARION_ADMIN_PASSWORD", raising=False)
    monkeypatch.delenv("CLARION_DEMO_PASSWORD", raising=False)

    run("clarion_demo")

    for template in Template.objects.select_related("category"):
        template.full_clean()
