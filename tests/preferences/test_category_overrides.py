"""Per category × channel digest frequency and user-lowered caps, through the API and the page."""

import pytest
from django.test import Client

from preferences.models import Preference
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    factories.CategoryFactory(slug="comment_reply", name="Replies", max_per_hour=10, max_per_day=None)
    factories.CategoryFactory(slug="password_reset", name="Reset codes", kind="security")
    return factories.UserFactory(username="ada")


def _patch(api_client, user, categories):
    return api_client.patch(f"/api/v1/users/{user.pk}/preferences", {"categories": categories}, format="json")


def test_a_choice_object_sets_digest_and_caps_for_one_channel(api_client, user):
    response = _patch(
        api_client, user, {"comment_reply": {"email": {"digest": "daily", "max_per_hour": 3, "max_per_day": 20}}}
    )
    assert response.status_code == 200, response.json()
    reply = response.json()["categories"]["comment_reply"]
    assert reply["overrides"]["email"] == {"digest": "daily", "max_per_hour": 3, "max_per_day": 20}
    assert reply["overrides"]["sms"] == {"digest": None, "max_per_hour": None, "max_per_day": None}
    assert reply["category_caps"] == {"max_per_hour": 10, "max_per_day": None}
    row = Preference.objects.get(user=user, channel="email")
    assert (row.enabled, row.digest_frequency, row.max_per_hour, row.max_per_day) == (True, "daily", 3, 20)


def test_a_true_or_false_choice_keeps_the_digest_and_caps(api_client, user):
    _patch(api_client, user, {"comment_reply": {"email": {"digest": "hourly", "max_per_hour": 2}}})
    _patch(api_client, user, {"comment_reply": {"email": False}})
    row = Preference.objects.get(user=user, channel="email")
    assert (row.enabled, row.digest_frequency, row.max_per_hour) == (False, "hourly", 2)


def test_null_returns_to_the_default(api_client, user):
    _patch(api_client, user, {"comment_reply": {"push": {"digest": "weekly", "max_per_hour": 2}}})
    _patch(api_client, user, {"comment_reply": {"push": {"digest": None, "max_per_hour": None}}})
    row = Preference.objects.get(user=user, channel="push")
    assert (row.digest_frequency, row.max_per_hour) == ("", None)


@pytest.mark.parametrize(
    ("choice", "field", "problem"),
    [
        ({"max_per_hour": 11}, "categories.comment_reply.email.max_per_hour", "at most 10"),
        ({"max_per_hour": 0}, "categories.comment_reply.email.max_per_hour", "at least 1"),
        ({"max_per_day": "5"}, "categories.comment_reply.email.max_per_day", "whole number"),
        ({"max_per_day": True}, "categories.comment_reply.email.max_per_day", "whole number"),
        ({"digest": "monthly"}, "categories.comment_reply.email.digest", "One of"),
        ({"enabled": "yes"}, "categories.comment_reply.email.enabled", "true or false"),
        ({"volume": 3}, "categories.comment_reply.email.volume", "Unknown field"),
        ([1], "categories.comment_reply.email", "true, false, or an object"),
    ],
)
def test_bad_choices_are_named(api_client, user, choice, field, problem):
    response = _patch(api_client, user, {"comment_reply": {"email": choice}})
    assert response.status_code == 400
    assert problem in response.json()["error"]["fields"][field]
    assert not Preference.objects.filter(user=user).exists()


def test_required_categories_are_never_digested_or_capped(api_client, user):
    response = _patch(api_client, user, {"password_reset": {"email": {"digest": "daily"}}})
    assert response.status_code == 400
    assert "never digested or capped" in response.json()["error"]["fields"]["categories.password_reset.email"]
    assert _patch(api_client, user, {"password_reset": {"email": {"enabled": True}}}).status_code == 200


def test_uncapped_categories_take_any_positive_cap(api_client, user):
    assert _patch(api_client, user, {"comment_reply": {"sms": {"max_per_day": 5000}}}).status_code == 200


def _page_form(**fields):
    form = {"timezone": "UTC", "phone_number": "", "quiet_hours_start": "", "quiet_hours_end": ""}
    form.update(fields)
    return form


@pytest.fixture
def page(user):
    client = Client()
    client.force_login(user)
    return client


def test_the_page_shows_one_digest_and_cap_control_per_category(page):
    html = page.get("/preferences/").content.decode()
    assert 'name="digest:comment_reply"' in html
    assert 'name="max_per_hour:comment_reply"' in html and 'max="10"' in html
    assert 'name="digest:password_reset"' not in html  # required: always sent at once


def test_the_page_sets_digest_and_caps_for_every_channel_of_a_category(page, user):
    response = page.post(
        "/preferences/",
        _page_form(
            **{"pref:comment_reply:email": "on", "digest:comment_reply": "daily", "max_per_hour:comment_reply": "4"}
        ),
    )
    assert response.status_code == 302
    rows = Preference.objects.filter(user=user, category__slug="comment_reply")
    assert {(r.channel, r.enabled, r.digest_frequency, r.max_per_hour) for r in rows} == {
        ("email", True, "daily", 4),
        ("sms", False, "daily", 4),
        ("push", False, "daily", 4),
        ("in_app", False, "daily", 4),
    }


def test_the_page_reports_a_cap_above_the_category(page, user):
    response = page.post("/preferences/", _page_form(**{"max_per_hour:comment_reply": "50"}))
    assert response.status_code == 400
    assert "at most 10" in response.content.decode()


def test_saving_the_page_unchanged_keeps_per_channel_values_set_by_the_api(api_client, page, user):
    _patch(api_client, user, {"comment_reply": {"email": {"digest": "daily"}, "sms": {"digest": "weekly"}}})
    html = page.get("/preferences/").content.decode()
    assert 'name="digest_shown:comment_reply" value=""' in html  # channels differ: no shared value
    form = _page_form(**{f"pref:comment_reply:{c}": "on" for c in ("email", "sms", "push", "in_app")})
    form.update({"digest:comment_reply": "", "digest_shown:comment_reply": ""})
    assert page.post("/preferences/", form).status_code == 302
    digests = dict(Preference.objects.filter(user=user).values_list("channel", "digest_frequency"))
    assert digests["email"] == "daily" and digests["sms"] == "weekly"
