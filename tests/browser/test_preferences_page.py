"""The preference page in headless Chromium: sign in, change settings, save."""

from __future__ import annotations

from datetime import time

import pytest

from preferences.models import NotificationSettings, Preference
from tests import factories

pytestmark = pytest.mark.e2e


@pytest.fixture
def site(processes):
    factories.CategoryFactory(slug="comment_reply", name="Replies")
    factories.CategoryFactory(slug="password_reset", name="Reset codes", kind="security")
    ada = factories.UserFactory(username="ada")
    ada.set_password("a long test password")
    ada.save()
    bob = factories.UserFactory(username="bob")
    NotificationSettings.objects.create(user=bob, phone_number="+14155550199")
    _, base_url = processes.web()
    return base_url, ada


def test_a_user_signs_in_changes_settings_and_saves(browser, site):
    base_url, ada = site
    page = browser.new_page()
    page.goto(f"{base_url}/preferences/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", "a long test password")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/preferences/")

    assert page.is_disabled("#pref-password_reset-email")
    assert "+14155550199" not in page.content()  # only her own settings
    page.uncheck("#pref-comment_reply-sms")
    page.select_option("#timezone", "Europe/Paris")
    page.fill("#quiet_hours_start", "22:00")
    page.fill("#quiet_hours_end", "07:00")
    page.select_option("#digest_frequency", "daily")
    page.select_option("#digest_hour", "9")
    page.select_option("#digest-comment_reply", "hourly")
    page.fill("#max_per_day-comment_reply", "5")
    page.fill("#phone_number", "+1 415 555 2671")
    page.click("#preferences-form button[type=submit]")
    page.wait_for_selector("text=Your notification settings are saved.")
    page.close()

    settings = NotificationSettings.objects.get(user=ada)
    assert settings.timezone == "Europe/Paris"
    assert (settings.quiet_hours_start, settings.quiet_hours_end) == (time(22), time(7))
    assert (settings.digest_frequency, settings.digest_hour) == ("daily", 9)
    assert settings.phone_number == "+14155552671"
    assert Preference.objects.get(user=ada, category__slug="comment_reply", channel="sms").enabled is False
    email = Preference.objects.get(user=ada, category__slug="comment_reply", channel="email")
    assert (email.enabled, email.digest_frequency, email.max_per_day) == (True, "hourly", 5)
