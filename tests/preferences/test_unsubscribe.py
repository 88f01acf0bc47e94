"""One-click unsubscribe: the signed tokens, the pages behind the link, and which routed
emails carry it."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core import signing
from django.test import Client

from delivery.models import Delivery
from delivery.planning import notifications_plan
from delivery.routing import deliveries_route
from preferences.models import NotificationSettings, Preference
from preferences.unsubscribe import (
    SALT,
    UnsubscribeLinkError,
    UnsubscribeTarget,
    unsubscribe_target,
    unsubscribe_token,
    unsubscribe_url,
)
from tests import factories

SIXTY_DAYS = timedelta(days=60).total_seconds()


def token_issued_seconds_ago(monkeypatch, target: UnsubscribeTarget, seconds: float) -> str:
    """A token as if signed `seconds` ago: the signer stamps it with time.time()."""
    issued_at = time.time() - seconds
    with monkeypatch.context() as patched:
        patched.setattr(signing.time, "time", lambda: issued_at)
        return unsubscribe_token(target)


def tampered(token: str) -> str:
    payload, timestamp, signature = token.split(":")
    # The same claim for another user: re-encoded without the secret key, so it cannot verify.
    forged = signing.b64_encode(b'[999,"comment_reply","email"]').decode()
    assert forged != payload
    return f"{forged}:{timestamp}:{signature}"


# --- tokens --------------------------------------------------------------------------------

TARGET = UnsubscribeTarget(user_id=7, category_slug="comment_reply", channel="email")


def test_token_round_trips_to_the_same_user_category_and_channel():
    assert unsubscribe_target(unsubscribe_token(TARGET)) == TARGET


@pytest.mark.parametrize(
    "mangle",
    [
        tampered,
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # signature altered
        lambda token: token[:40],  # cut short, as a wrapped line in a mail client can
        lambda token: "not-a-token",
    ],
)
def test_tampered_token_is_rejected_as_invalid_not_expired(mangle):
    with pytest.raises(UnsubscribeLinkError) as raised:
        unsubscribe_target(mangle(unsubscribe_token(TARGET)))

    assert raised.value.expired is False


def test_token_expires_after_the_configured_age(monkeypatch, settings):
    settings.CLARION_UNSUBSCRIBE_MAX_AGE_SECONDS = SIXTY_DAYS
    fresh_enough = token_issued_seconds_ago(monkeypatch, TARGET, SIXTY_DAYS - 3600)
    too_old = token_issued_seconds_ago(monkeypatch, TARGET, SIXTY_DAYS + 3600)

    assert unsubscribe_target(fresh_enough) == TARGET
    with pytest.raises(UnsubscribeLinkError) as raised:
        unsubscribe_target(too_old)
    assert raised.value.expired is True


def test_value_signed_with_another_salt_is_not_an_unsubscribe_token():
    other = signing.dumps([TARGET.user_id, TARGET.category_slug, TARGET.channel], salt="clarion.something-else")

    with pytest.raises(UnsubscribeLinkError) as raised:
        unsubscribe_target(other)

    assert raised.value.expired is False


def test_value_signed_with_our_salt_in_another_shape_is_rejected():
    with pytest.raises(UnsubscribeLinkError):
        unsubscribe_target(signing.dumps({"user": 7}, salt=SALT))


def test_url_is_absolute_on_the_configured_base_url(settings):
    settings.CLARION_BASE_URL = "https://notify.example.com/"

    url = unsubscribe_url(TARGET)

    assert url.startswith("https://notify.example.com/unsubscribe/")
    assert unsubscribe_target(url.rsplit("/", 1)[1]) == TARGET


# --- pages ---------------------------------------------------------------------------------


@pytest.fixture
def ada(db):
    return factories.UserFactory(username="ada")


@pytest.fixture
def replies(db):
    return factories.CategoryFactory(slug="comment_reply", name="Replies")


@pytest.fixture
def link(ada, replies) -> str:
    return "/unsubscribe/" + unsubscribe_token(UnsubscribeTarget(ada.pk, replies.slug, "email"))


def choices(user) -> set[tuple[str, str, bool]]:
    return set(Preference.objects.filter(user=user).values_list("category__slug", "channel", "enabled"))


@pytest.fixture
def other_choices(ada, replies):
    """Choices the link must leave alone: another channel, another category, another user."""
    digest = factories.CategoryFactory(slug="weekly_digest", name="Weekly digest")
    factories.PreferenceFactory(user=ada, category=replies, channel="sms", enabled=True)
    factories.PreferenceFactory(user=ada, category=digest, channel="email", enabled=True)
    bob = factories.UserFactory(username="bob")
    factories.PreferenceFactory(user=bob, category=replies, channel="email", enabled=True)
    return bob


def test_get_shows_a_confirmation_and_changes_nothing(ada, link, other_choices):
    before = set(Preference.objects.values_list("user_id", "category_id", "channel", "enabled"))

    response = Client().get(link)

    html = response.content.decode()
    assert response.status_code == 200
    assert "Stop Replies messages by email?" in html
    assert f'<form method="post" action="{link}">' in html
    assert set(Preference.objects.values_list("user_id", "category_id", "channel", "enabled")) == before
    assert not NotificationSettings.objects.filter(user=ada).exists()


def test_one_click_post_without_login_or_csrf_turns_off_only_that_category_and_channel(ada, link, other_choices):
    # A mail client's RFC 8058 request: no session, no CSRF token, this exact body.
    client = Client(enforce_csrf_checks=True)

    response = client.post(link, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 200
    assert "You will no longer receive Replies messages by email." in response.content.decode()
    assert choices(ada) == {
        ("comment_reply", "email", False),
        ("comment_reply", "sms", True),
        ("weekly_digest", "email", True),
    }
    assert choices(other_choices) == {("comment_reply", "email", True)}


def test_unsubscribed_page_offers_an_undo_that_turns_it_back_on(ada, link):
    client = Client(enforce_csrf_checks=True)
    unsubscribed = client.post(link)
    assert f'action="{link}/undo"' in unsubscribed.content.decode()
    assert choices(ada) == {("comment_reply", "email", False)}

    undone = client.post(f"{link}/undo")

    assert undone.status_code == 200
    assert "You will receive Replies messages by email again." in undone.content.decode()
    assert choices(ada) == {("comment_reply", "email", True)}


def test_undo_does_not_answer_get(ada, link):
    Client().post(link)

    assert Client().get(f"{link}/undo").status_code == 405
    assert choices(ada) == {("comment_reply", "email", False)}


@pytest.mark.parametrize("method", ["get", "post", "undo"])
def test_tampered_link_shows_an_error_page_and_changes_nothing(ada, link, other_choices, method):
    token = tampered(link.rsplit("/", 1)[1])
    before = set(Preference.objects.values_list("user_id", "category_id", "channel", "enabled"))

    if method == "undo":
        response = Client().post(f"/unsubscribe/{token}/undo")
    else:
        response = getattr(Client(), method)(f"/unsubscribe/{token}")

    html = response.content.decode()
    assert response.status_code == 400
    assert "Nothing was changed" in html
    assert "This unsubscribe link is not valid." in html
    assert set(Preference.objects.values_list("user_id", "category_id", "channel", "enabled")) == before


@pytest.mark.parametrize("method", ["get", "post"])
def test_expired_link_shows_an_error_page_and_changes_nothing(monkeypatch, settings, ada, replies, method):
    settings.CLARION_UNSUBSCRIBE_MAX_AGE_SECONDS = SIXTY_DAYS
    token = token_issued_seconds_ago(monkeypatch, UnsubscribeTarget(ada.pk, replies.slug, "email"), SIXTY_DAYS + 60)

    response = getattr(Client(), method)(f"/unsubscribe/{token}")

    assert response.status_code == 400
    assert "This unsubscribe link has expired." in response.content.decode()
    assert choices(ada) == set()


def test_link_for_a_required_category_changes_nothing(ada):
    codes = factories.CategoryFactory(slug="login_code", name="Login codes", kind="security")
    link = "/unsubscribe/" + unsubscribe_token(UnsubscribeTarget(ada.pk, codes.slug, "email"))

    looked, posted = Client().get(link), Client().post(link)

    assert (looked.status_code, posted.status_code) == (400, 400)
    assert "Login codes messages are required" in posted.content.decode()
    assert choices(ada) == set()


def test_link_of_a_deleted_user_is_no_longer_valid(ada, link):
    ada.delete()

    response = Client().post(link)

    assert response.status_code == 400
    assert "no longer valid" in response.content.decode()


# --- which emails carry the link -----------------------------------------------------------


def routed_email(category, user) -> Delivery:
    notification = factories.NotificationFactory(category=category, recipient=user, data={"name": "Ada"})
    notifications_plan([notification.pk])
    deliveries_route([notification.pk])
    return Delivery.objects.get(notification=notification, channel="email")


def test_routed_email_of_an_optional_category_carries_its_link_in_content_and_footers(settings, ada):
    settings.CLARION_BASE_URL = "https://notify.example.com"
    category = factories.category_with_templates(slug="comment_reply", channels=("email",))
    category.templates.update(html_body="<html><body><p>Hi {{ name }}</p></body></html>")

    content = routed_email(category, ada).content

    url = content["unsubscribe_url"]
    assert url.startswith("https://notify.example.com/unsubscribe/")
    assert unsubscribe_target(url.rsplit("/", 1)[1]) == UnsubscribeTarget(ada.pk, "comment_reply", "email")
    assert content["body"] == f"Hi Ada, this is ada's message.\n\nUnsubscribe from Comment Reply emails: {url}"
    assert content["html_body"] == (
        f'<html><body><p>Hi Ada</p><p><a href="{url}">Unsubscribe from Comment Reply emails</a></p></body></html>'
    )


@pytest.mark.parametrize("fields", [{"kind": "security"}, {"required": True}])
def test_routed_email_of_a_required_category_has_no_unsubscribe_link(ada, fields):
    category = factories.category_with_templates(slug="login_code", channels=("email",), **fields)

    content = routed_email(category, ada).content

    assert "unsubscribe_url" not in content
    assert content["body"] == "Hi Ada, this is ada's message."


def test_only_the_email_channel_gets_the_link(ada):
    category = factories.category_with_templates(slug="comment_reply", channels=("email", "in_app"))
    notification = factories.NotificationFactory(category=category, recipient=ada)
    notifications_plan([notification.pk])
    deliveries_route([notification.pk])

    in_app = Delivery.objects.get(notification=notification, channel="in_app")

    assert "unsubscribe_url" not in in_app.content
    assert "nsubscribe" not in in_app.content["body"]
