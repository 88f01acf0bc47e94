"""One-click unsubscribe end to end: real web and worker processes, the email as it arrives
at the provider (moto as SES, aiosmtpd as SMTP), and the link POSTed back to the web server
the way a mail client does (RFC 8058)."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from email import message_from_string, policy
from email.message import EmailMessage

import pytest
import requests
from django.core import signing

from delivery.models import FINAL_STATUSES, Delivery
from preferences.models import Preference
from preferences.unsubscribe import UnsubscribeTarget, unsubscribe_token
from tests import factories
from tests.support.processes import wait_for

pytestmark = pytest.mark.e2e

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def post_notification(base_url: str, api_key: str, category: str, recipient: str = "ada") -> str:
    response = requests.post(
        f"{base_url}/api/v1/notifications",
        json={"category": category, "recipients": [recipient], "data": {"name": "Ada"}},
        headers={"Authorization": f"Api-Key {api_key}"},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    return response.json()["notifications"][0]["id"]


def finished_email(notification_id: str) -> Delivery:
    return wait_for(
        lambda: Delivery.objects.filter(
            notification_id=notification_id, channel="email", status__in=FINAL_STATUSES
        ).first(),
        timeout=30,
        message=f"the email delivery of {notification_id} to finish",
    )


def ses_raw_emails(moto_server) -> list[EmailMessage]:
    """What SES accepted, as the full MIME messages moto keeps for raw sends."""
    state = requests.get(f"{moto_server.url}/moto-api/data.json", timeout=10).json()["ses"]
    assert state["Message"] == [], "an email went out without its headers"
    return [message_from_string(raw["raw_data"], policy=policy.default) for raw in state["RawMessage"]]


def list_unsubscribe_url(email) -> str:
    # Long header values are folded over lines; unfolding leaves whitespace around the <URL>.
    match = re.fullmatch(r"\s*<(\S+)>\s*", str(email["List-Unsubscribe"]))
    assert match, email["List-Unsubscribe"]
    return match[1]


def email_choices(user) -> dict[str, bool]:
    return dict(Preference.objects.filter(user=user, channel="email").values_list("category__slug", "enabled"))


def test_ses_email_carries_one_click_headers_and_posting_the_link_turns_that_email_off(processes, moto_server):
    replies = factories.category_with_templates(slug="comment_reply", channels=("email", "in_app"))
    ada = factories.UserFactory(username="ada")
    key = factories.api_key()
    moto_server.verify_sender()
    _, base_url = processes.web()
    processes.worker(env={**moto_server.env(), "CLARION_BASE_URL": base_url})

    first = finished_email(post_notification(base_url, key, replies.slug))

    assert first.status == Delivery.Status.SENT
    [email] = ses_raw_emails(moto_server)
    url = list_unsubscribe_url(email)
    assert url.startswith(f"{base_url}/unsubscribe/")
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = email.get_body(("plain",)).get_content()
    assert text.startswith("Hi Ada, this is ada's message.")
    assert f"Unsubscribe from Comment Reply emails: {url}" in text

    # What a mail client does on "unsubscribe": POST the one-click body, no cookies, no login.
    response = requests.post(url, data=ONE_CLICK, timeout=10, allow_redirects=False)

    assert response.status_code == 200
    assert "You will no longer receive Comment Reply messages by email." in response.text
    assert list(Preference.objects.filter(user=ada).values_list("category__slug", "channel", "enabled")) == [
        ("comment_reply", "email", False)
    ]
    # The next notification of that category skips email and still reaches the inbox.
    second = post_notification(base_url, key, replies.slug)
    assert finished_email(second).status == Delivery.Status.SKIPPED
    assert Delivery.objects.get(notification_id=second, channel="in_app").status != Delivery.Status.SKIPPED
    assert len(ses_raw_emails(moto_server)) == 1


def test_tampered_or_expired_link_gets_an_error_page_and_changes_nothing(processes, monkeypatch):
    replies = factories.category_with_templates(slug="comment_reply", channels=("email",))
    ada = factories.UserFactory(username="ada")
    factories.PreferenceFactory(user=ada, category=replies, channel="email", enabled=True)
    _, base_url = processes.web()
    target = UnsubscribeTarget(ada.pk, replies.slug, "email")
    payload, timestamp, signature = unsubscribe_token(target).split(":")
    for_bob = signing.b64_encode(f'[{ada.pk + 1},"comment_reply","email"]'.encode()).decode()
    sixty_one_days_ago = time.time() - timedelta(days=61).total_seconds()
    with monkeypatch.context() as patched:
        patched.setattr(signing.time, "time", lambda: sixty_one_days_ago)
        expired = unsubscribe_token(target)

    paths = {
        "tampered": f"{for_bob}:{timestamp}:{signature}",
        "truncated": f"{payload}:{timestamp}",
        "expired": expired,
        "expired undo": f"{expired}/undo",
    }
    answers = {
        name: requests.post(f"{base_url}/unsubscribe/{end}", data=ONE_CLICK, timeout=10) for name, end in paths.items()
    }

    assert {name: answer.status_code for name, answer in answers.items()} == dict.fromkeys(answers, 400)
    assert "This unsubscribe link is not valid." in answers["tampered"].text
    assert "This unsubscribe link is not valid." in answers["truncated"].text
    assert "This unsubscribe link has expired." in answers["expired"].text
    assert all("Nothing was changed" in answer.text for answer in answers.values())
    assert email_choices(ada) == {"comment_reply": True}
    assert Preference.objects.count() == 1


def test_smtp_email_carries_the_headers_except_for_a_required_category(processes, smtp_server):
    replies = factories.category_with_templates(slug="comment_reply", channels=("email",))
    codes = factories.category_with_templates(slug="login_code", channels=("email",), kind="security")
    ada = factories.UserFactory(username="ada")
    key = factories.api_key()
    _, base_url = processes.web()
    processes.worker(env={**smtp_server.env(), "CLARION_BASE_URL": base_url})

    optional = finished_email(post_notification(base_url, key, replies.slug))
    required = finished_email(post_notification(base_url, key, codes.slug))

    assert (optional.status, required.status) == (Delivery.Status.SENT, Delivery.Status.SENT)
    received = {
        message["X-Clarion-Delivery"]: message_from_string(message.as_string(), policy=policy.default)
        for message in smtp_server.messages
    }
    with_link, without_link = received[str(optional.pk)], received[str(required.pk)]
    url = list_unsubscribe_url(with_link)
    assert with_link["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert url in with_link.get_content()
    assert (without_link["List-Unsubscribe"], without_link["List-Unsubscribe-Post"]) == (None, None)
    assert "nsubscribe" not in without_link.get_content()

    assert requests.post(url, data=ONE_CLICK, timeout=10).status_code == 200
    assert email_choices(ada) == {"comment_reply": False}
