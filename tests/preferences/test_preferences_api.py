"""`/api/v1/users/{id}/preferences` for apps."""

import pytest

from preferences.models import NotificationSettings, Preference
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    factories.CategoryFactory(slug="comment_reply", name="Replies")
    factories.CategoryFactory(slug="password_reset", name="Reset codes", kind="security")
    return factories.UserFactory(username="ada")


def test_get_returns_defaults_before_anything_is_saved(api_client, user):
    response = api_client.get(f"/api/v1/users/{user.pk}/preferences")
    assert response.status_code == 200
    body = response.json()
    assert body["timezone"] == "UTC" and body["quiet_hours"] is None
    assert body["categories"]["comment_reply"]["channels"]["email"] is True
    assert body["categories"]["password_reset"]["required"] is True


def test_patch_changes_only_what_it_names(api_client, user):
    NotificationSettings.objects.create(user=user, phone_number="+14155552671", timezone="Asia/Tokyo")
    response = api_client.patch(
        f"/api/v1/users/{user.pk}/preferences",
        {"quiet_hours": {"start": "23:00", "end": "06:30"}, "categories": {"comment_reply": {"sms": False}}},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["timezone"] == "Asia/Tokyo" and body["phone_number"] == "+14155552671"
    assert body["quiet_hours"] == {"start": "23:00", "end": "06:30", "days": [0, 1, 2, 3, 4, 5, 6]}
    assert body["categories"]["comment_reply"]["channels"]["sms"] is False


def test_put_replaces_everything_not_named_with_defaults(api_client, user):
    api_client.patch(
        f"/api/v1/users/{user.pk}/preferences",
        {"muted_channels": ["push"], "categories": {"comment_reply": {"email": False}}},
        format="json",
    )
    response = api_client.put(f"/api/v1/users/{user.pk}/preferences", {"timezone": "Europe/Berlin"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["timezone"] == "Europe/Berlin" and body["muted_channels"] == []
    assert not Preference.objects.filter(user=user).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"phone_number": "555"}, "phone_number"),
        ({"quiet_hours": {"start": "25:00", "end": "07:00"}}, "quiet_hours.start"),
        ({"quiet_hours": {"start": "22:00"}}, "quiet_hours"),
        ({"quiet_hours": {"start": "22:00", "end": "07:00", "days": [9]}}, "quiet_hours.days"),
        ({"muted_channels": ["fax"]}, "muted_channels"),
        ({"paused_until": "tomorrow"}, "paused_until"),
        ({"categories": {"nope": {"email": False}}}, "categories.nope"),
        ({"categories": {"comment_reply": {"email": "no"}}}, "categories.comment_reply.email"),
        ({"categories": {"password_reset": {"email": False}}}, "categories.password_reset.email"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_changes_nothing(api_client, user, body, field):
    response = api_client.patch(f"/api/v1/users/{user.pk}/preferences", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not NotificationSettings.objects.filter(user=user).exists()


def test_unknown_user_is_a_404_and_a_key_is_required(api_client, client, user):
    assert api_client.get("/api/v1/users/999999/preferences").status_code == 404
    assert client.get(f"/api/v1/users/{user.pk}/preferences").status_code == 401


def test_digest_settings_round_trip_and_are_validated(api_client, user):
    url = f"/api/v1/users/{user.pk}/preferences"
    body = {"digest": {"frequency": "weekly", "hour": 18, "weekday": 4}}
    response = api_client.patch(url, body, format="json")
    assert response.status_code == 200
    assert response.json()["digest"] == {"frequency": "weekly", "hour": 18, "weekday": 4}
    bad = api_client.patch(url, {"digest": {"frequency": "yearly", "hour": 24}}, format="json")
    assert bad.status_code == 400
    assert "digest.frequency" in bad.json()["error"]["fields"]
