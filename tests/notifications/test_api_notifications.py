"""The public notifications API: accept, read back, idempotency, and every refusal."""

from __future__ import annotations

import json
import math
import uuid

import pytest
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from rest_framework.test import APIClient

from delivery.models import Delivery, DeliveryAttempt
from notifications.api_keys import api_key_create, api_key_revoke
from notifications.models import Notification, NotificationRequest
from tests import factories

URL = "/api/v1/notifications"


def detail_url(notification_id: object) -> str:
    return f"{URL}/{notification_id}"


def assert_error(response, status: int, code: str, field: str | None = None) -> dict:
    """The one error shape of the API, with the field it names."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "fields"}
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["fields"], dict)
    if field is not None:
        assert field in error["fields"], error
    return error


@pytest.fixture
def category(db):
    return factories.category_with_templates(slug="comment_reply", channels=("email", "in_app"))


@pytest.fixture
def ada(db):
    return factories.UserFactory(username="ada", email="Ada@Example.com")


@pytest.fixture
def bob(db):
    return factories.UserFactory(username="bob", email="bob@example.com")


def post(client: APIClient, body: object, **headers: str):
    return client.post(URL, body, format="json", **headers)


# --- accept --------------------------------------------------------------------------------


def test_accept_writes_one_notification_per_recipient_and_answers_202(api_client, category, ada, bob):
    carol = factories.UserFactory(username="carol", email="carol@example.com")
    dave = factories.UserFactory(username="dave")

    response = post(
        api_client,
        {
            "category": "comment_reply",
            "recipients": [ada.pk, "bob", "CAROL@example.com", str(dave.pk)],
            "data": {"author": "Ada", "n": 3},
        },
    )

    assert response.status_code == 202, response.content
    summaries = response.json()["notifications"]
    assert [s["recipient"] for s in summaries] == [ada.pk, bob.pk, carol.pk, dave.pk]
    assert all(s["status"] == "accepted" for s in summaries)
    stored = Notification.objects.filter(pk__in=[s["id"] for s in summaries])
    assert stored.count() == 4
    assert {n.recipient_id for n in stored} == {ada.pk, bob.pk, carol.pk, dave.pk}
    assert all(n.category == category and n.data == {"author": "Ada", "n": 3} for n in stored)
    assert all(n.priority == category.priority and n.channels == [] for n in stored)


def test_accept_keeps_requested_priority_and_channels(api_client, category, ada):
    response = post(
        api_client, {"category": "comment_reply", "recipients": ["ada"], "priority": "high", "channels": ["in_app"]}
    )

    assert response.status_code == 202, response.content
    notification = Notification.objects.get(pk=response.json()["notifications"][0]["id"])
    assert notification.priority == "high"
    assert notification.channels == ["in_app"]


def test_duplicate_recipients_collapse_to_one_notification(api_client, category, ada):
    response = post(
        api_client,
        {"category": "comment_reply", "recipients": [ada.pk, str(ada.pk), " ada ", "ada", "ADA@example.COM"]},
    )

    assert response.status_code == 202, response.content
    assert [s["recipient"] for s in response.json()["notifications"]] == [ada.pk]
    assert Notification.objects.count() == 1


def test_email_shared_by_two_accounts_resolves_to_the_oldest(api_client, category):
    older = factories.UserFactory(username="first", email="shared@example.com")
    factories.UserFactory(username="second", email="Shared@example.com")

    response = post(api_client, {"category": "comment_reply", "recipients": ["shared@example.com"]})

    assert response.status_code == 202, response.content
    assert [s["recipient"] for s in response.json()["notifications"]] == [older.pk]


def test_accept_enqueues_the_pipeline_only_after_commit(api_client, category, ada, django_capture_on_commit_callbacks):
    # Not executed: the callback would publish to the broker; that path is the e2e tests' job.
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post(api_client, {"category": "comment_reply", "recipients": ["ada"]})

    assert response.status_code == 202
    assert len(callbacks) == 1


def test_inactive_user_is_an_unknown_recipient(api_client, category):
    factories.UserFactory(username="gone", is_active=False)

    response = post(api_client, {"category": "comment_reply", "recipients": ["gone"]})

    error = assert_error(response, 400, "unknown_recipients", "recipients")
    assert "gone" in error["fields"]["recipients"]


# --- read back -----------------------------------------------------------------------------


def test_detail_shows_deliveries_and_their_attempts(api_client, category, ada):
    accepted = post(api_client, {"category": "comment_reply", "recipients": ["ada"], "data": {"x": 1}})
    notification_id = accepted.json()["notifications"][0]["id"]
    email = factories.DeliveryFactory(
        notification_id=notification_id, channel="email", status=Delivery.Status.SENT, provider="smtp"
    )
    factories.DeliveryAttemptFactory(
        delivery=email, provider="ses", outcome=DeliveryAttempt.Outcome.RETRYABLE, error_code="Throttling"
    )
    factories.DeliveryAttemptFactory(delivery=email, provider="smtp", provider_message_id="<m1@clarion>")
    factories.DeliveryFactory(
        notification_id=notification_id, channel="in_app", status=Delivery.Status.SKIPPED, reason="opted out"
    )

    response = api_client.get(detail_url(notification_id))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == notification_id
    assert body["category"] == "comment_reply"
    assert body["recipient"] == ada.pk
    assert body["data"] == {"x": 1}
    assert [d["channel"] for d in body["deliveries"]] == ["email", "in_app"]
    email_body, in_app_body = body["deliveries"]
    assert email_body["status"] == "sent"
    assert [(a["provider"], a["outcome"], a["error_code"]) for a in email_body["attempts"]] == [
        ("ses", "retryable", "Throttling"),
        ("smtp", "delivered", ""),
    ]
    assert in_app_body == {**in_app_body, "status": "skipped", "reason": "opted out", "attempts": []}


def test_detail_of_another_api_keys_notification_is_404(api_client, category, ada):
    accepted = post(api_client, {"category": "comment_reply", "recipients": ["ada"]})
    notification_id = accepted.json()["notifications"][0]["id"]
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Api-Key {factories.api_key('other-app')}")

    response = other.get(detail_url(notification_id))

    assert_error(response, 404, "not_found", "id")
    assert api_client.get(detail_url(notification_id)).status_code == 200


def test_detail_of_unknown_id_is_404(api_client):
    assert_error(api_client.get(detail_url(uuid.uuid4())), 404, "not_found", "id")


def test_detail_path_that_is_not_a_uuid_is_a_json_404(api_client):
    assert_error(api_client.get(detail_url("not-a-uuid")), 404, "not_found")


def test_detail_needs_an_api_key(category, ada):
    notification = factories.NotificationFactory(category=category, recipient=ada)

    assert_error(APIClient().get(detail_url(notification.pk)), 401, "missing_api_key")


# --- idempotency ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("header", "header"),
        ("body", "body"),
        ("header", "body"),
        ("body", "header"),
    ],
)
@pytest.mark.usefixtures("category", "ada", "bob")
def test_repeated_idempotency_key_returns_the_original_notifications(api_client, first, second):
    body = {"category": "comment_reply", "recipients": ["ada", "bob"], "data": {"k": "v"}}

    def send(variant: str):
        if variant == "header":
            return post(api_client, body, HTTP_IDEMPOTENCY_KEY="order-42")
        return post(api_client, {**body, "idempotency_key": "order-42"})

    original = send(first)
    repeat = send(second)

    assert original.status_code == 202, original.content
    assert repeat.status_code == 200, repeat.content
    assert repeat.json() == original.json()
    assert Notification.objects.count() == 2
    assert NotificationRequest.objects.get().idempotency_key == "order-42"


def test_idempotency_key_reused_with_a_different_body_is_409(api_client, category, ada, bob):
    first = post(api_client, {"category": "comment_reply", "recipients": ["ada"]}, HTTP_IDEMPOTENCY_KEY="k-1")

    response = post(api_client, {"category": "comment_reply", "recipients": ["bob"]}, HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == 202
    assert_error(response, 409, "idempotency_key_reused", "idempotency_key")
    assert Notification.objects.count() == 1


def test_idempotency_keys_belong_to_one_api_key(api_client, category, ada):
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Api-Key {factories.api_key('other-app')}")
    body = {"category": "comment_reply", "recipients": ["ada"], "idempotency_key": "same"}

    mine = post(api_client, body)
    theirs = post(other, body)

    assert (mine.status_code, theirs.status_code) == (202, 202)
    assert mine.json() != theirs.json()
    assert Notification.objects.count() == 2


def test_header_and_body_keys_that_differ_are_400(api_client, category, ada):
    response = post(
        api_client,
        {"category": "comment_reply", "recipients": ["ada"], "idempotency_key": "body-key"},
        HTTP_IDEMPOTENCY_KEY="header-key",
    )

    assert_error(response, 400, "invalid", "idempotency_key")
    assert Notification.objects.count() == 0


def test_overlong_idempotency_header_is_400(api_client, category, ada):
    response = post(api_client, {"category": "comment_reply", "recipients": ["ada"]}, HTTP_IDEMPOTENCY_KEY="k" * 256)

    assert_error(response, 400, "invalid", "Idempotency-Key")


def test_idempotency_header_with_nul_is_400(api_client, category, ada):
    response = post(api_client, {"category": "comment_reply", "recipients": ["ada"]}, HTTP_IDEMPOTENCY_KEY="a\x00b")

    assert_error(response, 400, "invalid", "Idempotency-Key")


# --- refusals, each naming its field -------------------------------------------------------


def test_unknown_category_is_400(api_client, ada):
    assert_error(post(api_client, {"category": "nope", "recipients": ["ada"]}), 400, "unknown_category", "category")


def test_disabled_category_is_unknown(api_client, ada):
    factories.CategoryFactory(slug="off", enabled=False)

    assert_error(post(api_client, {"category": "off", "recipients": ["ada"]}), 400, "unknown_category", "category")


def test_unknown_recipients_are_named(api_client, category, ada):
    response = post(
        api_client, {"category": "comment_reply", "recipients": ["ada", "zed", "nobody@example.com", 999999]}
    )

    error = assert_error(response, 400, "unknown_recipients", "recipients")
    for name in ("zed", "nobody@example.com", "999999"):
        assert name in error["fields"]["recipients"]
        assert name in error["message"]
    assert "ada" not in error["fields"]["recipients"].replace("Unknown: ", "").split(", ")
    assert Notification.objects.count() == 0


def test_many_unknown_recipients_are_summarised(api_client, category):
    response = post(api_client, {"category": "comment_reply", "recipients": [f"ghost{i}" for i in range(25)]})

    error = assert_error(response, 400, "unknown_recipients", "recipients")
    assert "ghost19" in error["message"]
    assert "ghost20" not in error["message"]
    assert "and 5 more" in error["message"]


def test_data_over_64_kib_is_400(api_client, category, ada):
    response = post(api_client, {"category": "comment_reply", "recipients": ["ada"], "data": {"blob": "x" * 65536}})

    error = assert_error(response, 400, "invalid", "data")
    assert "65536" in error["fields"]["data"]


def test_data_just_under_64_kib_is_accepted(api_client, category, ada):
    blob = "x" * (64 * 1024 - len('{"blob":""}'))

    response = post(api_client, {"category": "comment_reply", "recipients": ["ada"], "data": {"blob": blob}})

    assert response.status_code == 202, response.content


def test_more_than_1000_recipients_is_400(api_client, category):
    response = post(api_client, {"category": "comment_reply", "recipients": [f"u{i}" for i in range(1001)]})

    assert_error(response, 400, "invalid", "recipients")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"category": "comment_reply", "recipients": []}, "recipients"),
        ({"category": "comment_reply"}, "recipients"),
        ({"recipients": ["ada"]}, "category"),
        ({}, "category"),
        ({"category": ["comment_reply"], "recipients": ["ada"]}, "category"),
        ({"category": "not a slug!", "recipients": ["ada"]}, "category"),
        ({"category": None, "recipients": ["ada"]}, "category"),
        ({"category": "comment_reply", "recipients": "ada"}, "recipients"),
        ({"category": "comment_reply", "recipients": {"ada": 1}}, "recipients"),
        ({"category": "comment_reply", "recipients": ["ada", True]}, "recipients.1"),
        ({"category": "comment_reply", "recipients": [1.5]}, "recipients.0"),
        ({"category": "comment_reply", "recipients": [0]}, "recipients.0"),
        ({"category": "comment_reply", "recipients": [-3]}, "recipients.0"),
        ({"category": "comment_reply", "recipients": [""]}, "recipients.0"),
        ({"category": "comment_reply", "recipients": [None]}, "recipients.0"),
        ({"category": "comment_reply", "recipients": [["ada"]]}, "recipients.0"),
        ({"category": "comment_reply", "recipients": ["a" * 255]}, "recipients.0"),
        ({"category": "comment_reply", "recipients": ["ad\x00a"]}, "recipients.0"),
        ({"category": "comment_reply", "recipients": ["ada"], "data": []}, "data"),
        ({"category": "comment_reply", "recipients": ["ada"], "data": "x"}, "data"),
        ({"category": "comment_reply", "recipients": ["ada"], "data": {"k": "a\x00"}}, "data"),
        ({"category": "comment_reply", "recipients": ["ada"], "data": {"k\x00": 1}}, "data"),
        ({"category": "comment_reply", "recipients": ["ada"], "priority": "urgent"}, "priority"),
        ({"category": "comment_reply", "recipients": ["ada"], "priority": 1}, "priority"),
        ({"category": "comment_reply", "recipients": ["ada"], "channels": ["fax"]}, "channels.0"),
        ({"category": "comment_reply", "recipients": ["ada"], "channels": []}, "channels"),
        ({"category": "comment_reply", "recipients": ["ada"], "channels": "email"}, "channels"),
        ({"category": "comment_reply", "recipients": ["ada"], "idempotency_key": ""}, "idempotency_key"),
        ({"category": "comment_reply", "recipients": ["ada"], "idempotency_key": "k" * 256}, "idempotency_key"),
        ({"category": "comment_reply", "recipients": ["ada"], "idempotency_key": ["k"]}, "idempotency_key"),
        ({"category": "comment_reply", "recipients": ["ada"], "colour": "red"}, "colour"),
        ({"category": "comment_reply", "recipients": ["ada"], "Category": "x"}, "Category"),
        (["comment_reply"], "_body"),
        ("comment_reply", "_body"),
        (42, "_body"),
    ],
)
def test_invalid_body_is_400_naming_the_field(api_client, category, ada, body, field):
    response = post(api_client, body)

    assert_error(response, 400, "invalid", field)
    assert Notification.objects.count() == 0


def test_data_nested_too_deep_is_400(api_client, category, ada):
    data: dict = {}
    for _ in range(40):
        data = {"d": data}

    response = post(api_client, {"category": "comment_reply", "recipients": ["ada"], "data": data})

    assert_error(response, 400, "invalid", "data")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"category": "comment_reply", "recipients": ["ada"]',
        b"{'category': 'comment_reply'}",
        b'{"category": "comment_reply", "recipients": ["ada"], "data": {"x": NaN}}',
        b'{"category": "comment_reply", "recipients": ["ada"], "data": {"x": Infinity}}',
        b'{"category": "comment_reply", "recipients": ["ada"], "data": {"x": 1e999}}',
        b'{"category": "comment_reply", "recipients": ["\\ud800"]}',
        b'{"category": "comment_reply\xff", "recipients": ["ada"]}',
        b"[" * 100_000,
        b"not json at all",
    ],
)
def test_malformed_json_is_400(api_client, category, ada, raw):
    response = api_client.generic("POST", URL, raw, content_type="application/json")

    assert_error(response, 400, "malformed_json", "_body")


def test_empty_body_is_400(api_client, category):
    response = api_client.generic("POST", URL, b"", content_type="application/json")

    assert_error(response, 400, "invalid")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_wrong_content_type_is_415(api_client, category, ada, content_type):
    response = api_client.generic("POST", URL, b"category=comment_reply&recipients=ada", content_type=content_type)

    assert_error(response, 415, "unsupported_media_type", "Content-Type")


def test_multipart_form_is_415(api_client, category, ada):
    response = api_client.post(URL, {"category": "comment_reply", "recipients": "ada"})

    assert_error(response, 415, "unsupported_media_type")


def test_body_over_the_size_cap_is_413(api_client, category, ada):
    size = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    raw = json.dumps({"category": "comment_reply", "recipients": ["ada"], "data": {"x": "y" * size}}).encode()

    response = api_client.generic("POST", URL, raw, content_type="application/json")

    assert_error(response, 413, "payload_too_large")
    assert Notification.objects.count() == 0


def test_other_methods_are_405(api_client):
    assert_error(api_client.get(URL), 405, "method_not_allowed")
    assert_error(api_client.delete(URL), 405, "method_not_allowed")


def test_unknown_api_path_is_a_json_404(api_client):
    assert_error(api_client.get("/api/v1/nothing-here"), 404, "not_found")


# --- authentication ------------------------------------------------------------------------

VALID_BODY = {"category": "comment_reply", "recipients": ["ada"]}


def test_missing_api_key_is_401(category, ada):
    response = post(APIClient(), VALID_BODY)

    error = assert_error(response, 401, "missing_api_key")
    assert response["WWW-Authenticate"] == "Api-Key"
    assert error["fields"] == {}
    assert Notification.objects.count() == 0


def test_revoked_api_key_is_401(category, ada):
    api_key, raw_key = api_key_create("soon-gone")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    assert post(client, VALID_BODY).status_code == 202

    api_key_revoke(api_key.prefix)

    assert_error(post(client, VALID_BODY), 401, "invalid_api_key")
    assert Notification.objects.count() == 1


@pytest.mark.parametrize(
    "header",
    [
        "Bearer {key}",
        "Token {key}",
        "api-key {key}",
        "Api-Key",
        "Api-Key ",
        "{key}",
        "Api-Key clr_00000000_unknown",
        "Api-Key clr_zzzzzzzz_not-hex",
        "Api-Key clr_\x00\x00\x00\x00\x00\x00\x00\x00_nul",
        "Api-Key {key}x",
        "Api-Key xyz_{key}",
    ],
)
def test_wrong_scheme_or_unknown_key_is_401(api_key, category, ada, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header.format(key=api_key))

    assert_error(post(client, VALID_BODY), 401, "invalid_api_key")


def test_api_key_with_underscores_in_its_secret_authenticates(category, ada, monkeypatch):
    monkeypatch.setattr("secrets.token_urlsafe", lambda n: "under_scored_secret")
    _, raw_key = api_key_create("underscores")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")

    assert post(client, VALID_BODY).status_code == 202


# --- query counts --------------------------------------------------------------------------

ACCEPT_MAX_QUERIES = 10  # key, replay check, category, two recipient lookups, savepoints and inserts


def insert_batches(model, count: int) -> int:
    """How many INSERTs bulk_create needs for `count` rows here. PostgreSQL takes them in
    one; SQLite's bound on query parameters splits a large batch, the only growth allowed."""
    batch = connection.ops.bulk_batch_size(list(model._meta.concrete_fields), [None] * count)
    return math.ceil(count / batch)


@pytest.mark.parametrize("recipient_count", [1, 500])
def test_accept_query_count_does_not_grow_with_recipients(
    api_client, category, recipient_count, django_assert_max_num_queries
):
    users = factories.UserFactory.create_batch(recipient_count)
    recipients = [u.username for u in users[::2]] + [u.email for u in users[1::2]] + [u.pk for u in users]
    post(api_client, {"category": "comment_reply", "recipients": [users[0].pk]})  # stamps last_used_at

    with django_assert_max_num_queries(ACCEPT_MAX_QUERIES + insert_batches(Notification, recipient_count) - 1):
        response = post(api_client, {"category": "comment_reply", "recipients": recipients, "idempotency_key": "q"})

    assert response.status_code == 202, response.content
    assert len(response.json()["notifications"]) == recipient_count


@pytest.mark.parametrize("recipient_count", [1, 500])
def test_replayed_accept_query_count_does_not_grow_with_recipients(
    api_client, category, recipient_count, django_assert_max_num_queries
):
    users = factories.UserFactory.create_batch(recipient_count)
    body = {"category": "comment_reply", "recipients": [u.pk for u in users], "idempotency_key": "q"}
    assert post(api_client, body).status_code == 202

    with django_assert_max_num_queries(3):
        response = post(api_client, body)

    assert response.status_code == 200
    assert len(response.json()["notifications"]) == recipient_count


@pytest.mark.parametrize("attempts_per_delivery", [1, 10])
def test_detail_query_count_does_not_grow_with_deliveries_and_attempts(
    api_client, category, ada, attempts_per_delivery, django_assert_max_num_queries
):
    accepted = post(api_client, {"category": "comment_reply", "recipients": ["ada"]})
    notification_id = accepted.json()["notifications"][0]["id"]
    for channel in ("email", "sms", "push", "in_app"):
        delivery = factories.DeliveryFactory(notification_id=notification_id, channel=channel)
        factories.DeliveryAttemptFactory.create_batch(attempts_per_delivery, delivery=delivery)

    with django_assert_max_num_queries(4):  # key, notification + category, deliveries, attempts
        response = api_client.get(detail_url(notification_id))

    assert response.status_code == 200
    deliveries = response.json()["deliveries"]
    assert len(deliveries) == 4
    assert all(len(d["attempts"]) == attempts_per_delivery for d in deliveries)


@pytest.mark.parametrize(
    "failure",
    [
        OperationalError("connection to server at 127.0.0.1, port 5432 failed: Connection refused"),
        InterfaceError("connection already closed"),
    ],
)
def test_a_database_that_cannot_be_reached_is_a_503_to_retry_not_a_500(api_client, category, ada, failure):
    def refuse(execute, sql, params, many, context):
        raise failure

    with connection.execute_wrapper(refuse):
        response = post(api_client, {"category": "comment_reply", "recipients": ["ada"]}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert_error(response, 503, "database_unavailable")
    assert response["Retry-After"] == "5"
    assert not Notification.objects.exists()
    retried = post(api_client, {"category": "comment_reply", "recipients": ["ada"]}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert retried.status_code == 202
