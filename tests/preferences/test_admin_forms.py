"""Staff edits in the admin pass the same validation as the page and the API."""

import pytest

from preferences.admin import NotificationSettingsForm, PreferenceForm
from tests import factories

pytestmark = pytest.mark.django_db


def _settings_form(**fields):
    user = factories.UserFactory()
    data = {
        "user": user.pk,
        "timezone": "Europe/Paris",
        "locale": "en",
        "phone_number": "",
        "quiet_hours_days": "[0, 1, 2, 3, 4, 5, 6]",
        "muted_channels": "[]",
        "digest_frequency": "off",
        "digest_hour": 8,
        "digest_weekday": 0,
    }
    data.update(fields)
    return NotificationSettingsForm(data=data)


def test_admin_phone_numbers_are_normalized_to_e164():
    form = _settings_form(phone_number="+1 (415) 555-2671")
    assert form.is_valid(), form.errors
    assert form.cleaned_data["phone_number"] == "+14155552671"


@pytest.mark.parametrize(("field", "value"), [("phone_number", "555"), ("timezone", "Mars/Olympus")])
def test_admin_refuses_what_the_api_refuses(field, value):
    form = _settings_form(**{field: value})
    assert not form.is_valid()
    assert field in form.errors


def test_admin_caps_may_only_lower_the_category():
    category = factories.CategoryFactory(max_per_day=10)
    data = {"user": factories.UserFactory().pk, "category": category.pk, "channel": "email", "enabled": "on"}
    assert not PreferenceForm(data={**data, "max_per_day": 11}).is_valid()
    assert PreferenceForm(data={**data, "max_per_day": 9}).is_valid()
