"""The end user's preference page, through Django's test client."""

from datetime import UTC, datetime, time

import pytest
from django.test import Client

from delivery.models import Device
from preferences.models import NotificationSettings, Preference
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return factories.UserFactory(username="ada")


@pytest.fixture
def client_for(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def categories():
    social = factories.CategoryFactory(slug="comment_reply", name="Replies")
    security = factories.CategoryFactory(slug="password_reset", name="Reset codes", kind="security")
    return social, security


def _form(**overrides):
    form = {"timezone": "Europe/Paris", "phone_number": "", "quiet_hours_start": "", "quiet_hours_end": ""}
    form.update(overrides)
    return form


def test_page_requires_sign_in():
    response = Client().get("/preferences/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_page_shows_the_matrix_with_required_categories_locked(client_for, categories):
    response = client_for.get("/preferences/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="pref:comment_reply:email"' in html
    assert 'id="pref-password_reset-sms"' in html
    locked = html.split('id="pref-password_reset-sms"')[1].split(">")[0]
    assert "disabled" in locked and "checked" in locked
    assert 'name="csrfmiddlewaretoken"' in html


def test_saving_the_form_stores_choices_quiet_hours_mutes_and_phone(client_for, user, categories):
    form = _form(
        **{"pref:comment_reply:in_app": "on"},
        quiet_hours_start="22:00",
        quiet_hours_end="07:00",
        quiet_hours_days=["0", "1", "2"],
        muted_channels=["sms"],
        phone_number="+1 415 555 2671",
        paused_until="2026-12-24T18:00",
    )
    response = client_for.post("/preferences/", form, follow=True)

    assert response.status_code == 200
    assert "saved" in response.content.decode()
    settings = NotificationSettings.objects.get(user=user)
    assert settings.timezone == "Europe/Paris"
    assert (settings.quiet_hours_start, settings.quiet_hours_end) == (time(22, 0), time(7, 0))
    assert settings.quiet_hours_days == [0, 1, 2]
    assert settings.muted_channels == ["sms"]
    assert settings.phone_number == "+14155552671"
    assert settings.paused_until == datetime(2026, 12, 24, 17, 0, tzinfo=UTC)  # 18:00 in Paris
    choices = {(p.category.slug, p.channel): p.enabled for p in Preference.objects.filter(user=user)}
    assert choices[("comment_reply", "email")] is False
    assert choices[("comment_reply", "in_app")] is True
    assert not any(slug == "password_reset" for slug, _ in choices)


def test_invalid_input_is_reported_by_field_and_nothing_is_saved(client_for, user, categories):
    response = client_for.post("/preferences/", _form(phone_number="12", quiet_hours_start="22:00"))
    assert response.status_code == 400
    html = response.content.decode()
    assert "phone_number" in html and "quiet_hours" in html
    assert not NotificationSettings.objects.filter(user=user).exists()


def test_a_user_can_remove_only_their_own_devices(client_for, user):
    mine = factories.DeviceFactory(user=user)
    theirs = factories.DeviceFactory()
    client_for.post(f"/preferences/devices/{theirs.pk}/remove")
    client_for.post(f"/preferences/devices/{mine.pk}/remove")
    assert Device.objects.filter(pk=theirs.pk).exists()
    assert not Device.objects.filter(pk=mine.pk).exists()


def test_the_page_shows_only_the_signed_in_users_settings(client_for, categories):
    other = factories.UserFactory(username="bob")
    NotificationSettings.objects.create(user=other, phone_number="+14155550199")
    html = client_for.get("/preferences/").content.decode()
    assert "+14155550199" not in html
    assert "bob@example.com" not in html
