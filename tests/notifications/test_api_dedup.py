"""`dedup_key` on the notifications API: validated like the other fields, stored on each
notification, shown when it is read back, and part of the body an idempotency key guards."""

from __future__ import annotations

import pytest

from notifications.models import Notification
from tests import factories
from tests.notifications.test_api_notifications import assert_error, detail_url, post


@pytest.fixture
def category(db):
    return factories.category_with_templates(slug="comment_reply", channels=("email",))


@pytest.fixture
def recipients(db):
    return [factories.UserFactory(username="ada"), factories.UserFactory(username="bob")]


def body(**fields) -> dict:
    return {"category": "comment_reply", "recipients": ["ada", "bob"], **fields}


def test_dedup_key_is_stored_on_every_notification_and_shown_when_read(api_client, category, recipients):
    response = post(api_client, body(dedup_key="post-981:comment-12"))

    assert response.status_code == 202, response.content
    stored = Notification.objects.all()
    assert [n.dedup_key for n in stored] == ["post-981:comment-12"] * 2
    detail = api_client.get(detail_url(stored[0].pk))
    assert detail.json()["dedup_key"] == "post-981:comment-12"


def test_without_a_dedup_key_nothing_is_deduplicated(api_client, category, recipients):
    post(api_client, body())

    assert set(Notification.objects.values_list("dedup_key", flat=True)) == {""}


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("k" * 256, "no more than 255"),
        ("", "may not be blank"),
        ("a\x00b", "Null characters are not allowed"),
        (["k"], "Not a valid string"),
        ({"k": 1}, "Not a valid string"),
    ],
)
def test_a_bad_dedup_key_is_refused_naming_the_field(api_client, category, recipients, value, problem):
    response = post(api_client, body(dedup_key=value))

    error = assert_error(response, 400, "invalid", "dedup_key")
    assert problem in str(error["fields"]["dedup_key"])
    assert not Notification.objects.exists()


def test_a_dedup_key_of_255_characters_is_accepted(api_client, category, recipients):
    response = post(api_client, body(dedup_key="k" * 255))

    assert response.status_code == 202, response.content


def test_an_idempotency_key_reused_with_another_dedup_key_is_a_conflict(api_client, category, recipients):
    first = post(api_client, body(dedup_key="a", idempotency_key="call-1"))
    second = post(api_client, body(dedup_key="b", idempotency_key="call-1"))

    assert first.status_code == 202
    assert_error(second, 409, "idempotency_key_reused")
