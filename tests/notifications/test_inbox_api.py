"""The inbox API: the feed, counts and marks for one end user (session or inbox token), the
token apps mint, and that nobody reaches another user's items through any of it."""

from __future__ import annotations

import base64
import json
import logging
import time
from datetime import timedelta

import pytest
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from notifications.api_keys import api_key_revoke
from notifications.inbox_feed import cursor_encode
from notifications.inbox_tokens import inbox_token_create
from notifications.models import ApiKey, InboxItem
from tests import factories

pytestmark = pytest.mark.django_db

ITEMS = "/api/v1/inbox/items"
COUNTS = "/api/v1/inbox/counts"
MARKS = ["read", "unread", "seen", "archived", "unarchived"]
HUGE_ID = 10**30


@pytest.fixture
def ada():
    return factories.UserFactory(username="ada")


@pytest.fixture
def bob():
    return factories.UserFactory(username="bob")


def item(user, minutes_ago: float = 0, **fields) -> InboxItem:
    created = factories.InboxItemFactory(user=user, **fields)
    if minutes_ago:
        InboxItem.objects.filter(pk=created.pk).update(created_at=timezone.now() - timedelta(minutes=minutes_ago))
        created.refresh_from_db()
    return created


def token_client(user, api_key: ApiKey | None = None) -> APIClient:
    """An app's front end, with a token its backend minted with its API key."""
    token = inbox_token_create(user, api_key=api_key or factories.ApiKeyFactory()).token
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Inbox-Token {token}")
    return client


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def session_client(user) -> Client:
    """A browser: signed in, with the CSRF cookie and header Django expects on writes."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    secret = _get_new_csrf_string()
    client.cookies["csrftoken"] = secret
    client.defaults["HTTP_X_CSRFTOKEN"] = secret
    return client


@pytest.fixture(params=["session", "token"])
def as_user(request):
    """A client factory for either way an end user authenticates."""
    return session_client if request.param == "session" else token_client


def post(client, url: str, body: object | None = None):
    """A POST as fetch() sends it: JSON, or no body at all."""
    return client.post(url, data="" if body is None else json.dumps(body), content_type="application/json")


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code, body
    return body["error"]


def ids(response) -> list[int]:
    return [entry["id"] for entry in response.json()["items"]]


# --- minting tokens ---------------------------------------------------------------------


def test_app_mints_an_inbox_token_that_opens_the_users_inbox(api_client, ada, settings):
    settings.CLARION_INBOX_TOKEN_SECONDS = 600
    mine = item(ada)

    response = api_client.post(f"/api/v1/users/{ada.pk}/inbox-token")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"token", "expires_at"}
    remaining = parse_datetime(body["expires_at"]) - timezone.now()
    assert timedelta(seconds=590) < remaining <= timedelta(seconds=600)
    feed = APIClient().get(ITEMS, HTTP_AUTHORIZATION=f"Inbox-Token {body['token']}")
    assert ids(feed) == [mine.pk]


@pytest.mark.parametrize("user_id", ["999999", str(HUGE_ID)])
def test_minting_for_an_unknown_user_is_not_found(api_client, user_id):
    assert_error(api_client.post(f"/api/v1/users/{user_id}/inbox-token"), 404, "not_found")


def test_minting_for_an_inactive_user_is_not_found(api_client, ada):
    ada.is_active = False
    ada.save(update_fields=["is_active"])

    assert_error(api_client.post(f"/api/v1/users/{ada.pk}/inbox-token"), 404, "not_found")


@pytest.mark.parametrize("auth", [None, "Api-Key clr_00000000_wrong"])
def test_minting_needs_a_valid_api_key(ada, auth):
    client = APIClient()
    if auth:
        client.credentials(HTTP_AUTHORIZATION=auth)

    response = client.post(f"/api/v1/users/{ada.pk}/inbox-token")

    assert_error(response, 401, "missing_api_key" if auth is None else "invalid_api_key")


def test_an_end_user_cannot_mint_tokens_with_their_session_or_token(ada):
    for client in (session_client(ada), token_client(ada)):
        assert post(client, f"/api/v1/users/{ada.pk}/inbox-token").status_code == 401


def test_inbox_tokens_in_websocket_paths_are_masked_in_server_logs(caplog):
    server_log = logging.getLogger("uvicorn.error")
    path = f"/ws/notifications/?token={inbox_token_create(factories.UserFactory()).token}&after=3"

    with caplog.at_level(logging.INFO, logger="uvicorn.error"):
        server_log.info('%s - "WebSocket %s" [accepted]', "127.0.0.1:50000", path)

    assert caplog.messages == ['127.0.0.1:50000 - "WebSocket /ws/notifications/?token=***&after=3" [accepted]']


# --- authentication ---------------------------------------------------------------------


def test_anonymous_callers_are_refused_with_the_error_shape():
    response = APIClient().get(ITEMS)

    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Inbox-Token"


def test_an_api_key_alone_does_not_open_anyones_inbox(api_client, ada):
    item(ada)

    assert_error(api_client.get(ITEMS), 401, "not_authenticated")
    assert_error(api_client.get(COUNTS), 401, "not_authenticated")


def tampered(token: str) -> str:
    # Change the last character of the signature to another valid base64 character.
    return token[:-1] + ("A" if token[-1] != "A" else "B")


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda user: inbox_token_create(user, lifetime_seconds=-1).token, id="expired"),
        pytest.param(lambda user: tampered(inbox_token_create(user).token), id="tampered-signature"),
        pytest.param(lambda user: "W" + inbox_token_create(user).token[1:], id="tampered-payload"),
        pytest.param(lambda user: "not-a-token", id="garbage"),
        pytest.param(lambda user: "", id="empty"),
        pytest.param(lambda user: "é" * 40, id="non-ascii"),
        pytest.param(lambda user: "a" * 5000, id="oversized"),
    ],
)
def test_a_bad_inbox_token_is_refused_with_401_and_the_error_shape(ada, make_token):
    item(ada)

    response = APIClient().get(ITEMS, HTTP_AUTHORIZATION=f"Inbox-Token {make_token(ada)}")

    assert_error(response, 401, "invalid_inbox_token")


def test_a_token_signed_for_another_purpose_is_refused(ada):
    from django.core import signing

    forged = signing.dumps({"u": ada.pk, "k": None, "e": int(time.time()) + 600})  # default salt

    assert_error(APIClient().get(ITEMS, HTTP_AUTHORIZATION=f"Inbox-Token {forged}"), 401, "invalid_inbox_token")


def test_revoking_the_api_key_ends_the_tokens_it_minted(api_client, api_key, ada):
    token = api_client.post(f"/api/v1/users/{ada.pk}/inbox-token").json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Inbox-Token {token}")
    assert client.get(COUNTS).status_code == 200

    api_key_revoke(api_key.split("_")[1])

    assert_error(client.get(COUNTS), 401, "invalid_inbox_token")
    assert ApiKey.objects.get().revoked_at is not None


def test_a_token_of_a_deactivated_user_is_refused(ada):
    client = token_client(ada)
    ada.is_active = False
    ada.save(update_fields=["is_active"])

    assert_error(client.get(COUNTS), 401, "invalid_inbox_token")


def test_session_writes_need_the_csrf_token_and_token_writes_do_not(ada):
    mine = item(ada)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(ada)

    refused = post(browser, f"{ITEMS}/{mine.pk}/read")

    assert_error(refused, 403, "permission_denied")
    mine.refresh_from_db()
    assert mine.read_at is None
    assert post(session_client(ada), f"{ITEMS}/{mine.pk}/read").status_code == 200
    assert post(token_client(ada), f"{ITEMS}/{mine.pk}/unread").status_code == 200


def test_cors_preflight_is_answered_without_credentials():
    response = APIClient().options(ITEMS, HTTP_ORIGIN="https://app.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET")

    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in response["Access-Control-Allow-Headers"]
    assert "POST" in response["Access-Control-Allow-Methods"]


# --- the feed ---------------------------------------------------------------------------


def test_feed_lists_the_users_items_newest_first_with_counts(as_user, ada):
    older = item(ada, minutes_ago=10, title="Older", data={"post": 7})
    newer = item(ada, minutes_ago=1, title="Newer")
    newer.read_at = timezone.now()
    newer.save(update_fields=["read_at"])

    response = as_user(ada).get(ITEMS)

    assert response.status_code == 200
    body = response.json()
    assert ids(response) == [newer.pk, older.pk]
    assert body["next_cursor"] is None
    assert body["counts"] == {"unseen": 2, "unread": 1, "total": 2}
    entry = body["items"][1]
    assert entry["title"] == "Older" and entry["category"] == "comment_reply" and entry["data"] == {"post": 7}
    assert (entry["seen"], entry["read"], entry["archived"]) == (False, False, False)
    assert entry["notification_id"] == str(older.notification_id)


def test_cursor_pages_through_the_feed_without_gaps_or_repeats(ada):
    client = token_client(ada)
    made = [item(ada, minutes_ago=10 - i) for i in range(7)]
    # Two items created in the same microsecond still page in a stable order (by id).
    InboxItem.objects.filter(pk=made[4].pk).update(created_at=made[3].created_at)
    expected = sorted(InboxItem.objects.filter(user=ada), key=lambda entry: (entry.created_at, entry.pk), reverse=True)

    seen, cursor, pages = [], None, 0
    while True:
        response = client.get(ITEMS, {"limit": 2, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200
        seen += ids(response)
        pages += 1
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break

    assert seen == [entry.pk for entry in expected]
    assert pages == 4


def test_items_arriving_while_paging_do_not_shift_the_next_page(ada):
    client = token_client(ada)
    first, second, third = (item(ada, minutes_ago=m) for m in (3, 2, 1))
    page = client.get(ITEMS, {"limit": 2}).json()

    item(ada)  # a new one at the top
    rest = client.get(ITEMS, {"limit": 2, "cursor": page["next_cursor"]})

    assert [entry["id"] for entry in page["items"]] == [third.pk, second.pk]
    assert ids(rest) == [first.pk]


def test_feed_filters_unread_archived_and_category(ada):
    client = token_client(ada)
    now = timezone.now()
    unread = item(ada, minutes_ago=4)
    read = item(ada, minutes_ago=3, read_at=now)
    archived = item(ada, minutes_ago=2, archived_at=now)
    other = item(ada, minutes_ago=1, category=factories.CategoryFactory(slug="order_shipped"))

    assert ids(client.get(ITEMS)) == [other.pk, read.pk, unread.pk]
    assert ids(client.get(ITEMS, {"unread": "true"})) == [other.pk, unread.pk]
    assert ids(client.get(ITEMS, {"unread": "false"})) == [read.pk]
    assert ids(client.get(ITEMS, {"archived": "true"})) == [archived.pk]
    assert ids(client.get(ITEMS, {"category": "order_shipped"})) == [other.pk]
    assert ids(client.get(ITEMS, {"category": "no_such_category"})) == []


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"limit": "0"}, "invalid"),
        ({"limit": "101"}, "invalid"),
        ({"limit": "ten"}, "invalid"),
        ({"unread": "maybe"}, "invalid"),
        ({"archived": "sometimes"}, "invalid"),
        ({"category": "x" * 101}, "invalid"),
        ({"category": "comment\x00reply"}, "invalid"),
        ({"cursor": "\x00"}, "invalid"),
        ({"cursor": "not-a-cursor"}, "invalid_cursor"),
        ({"cursor": b64("2026-01-01T00:00:00|1")}, "invalid_cursor"),  # no time zone
        ({"cursor": b64(f"2026-01-01T00:00:00+00:00|{HUGE_ID}")}, "invalid_cursor"),
        ({"cursor": b64("2026-01-01T00:00:00+00:00|-1")}, "invalid_cursor"),
        ({"cursor": b64("0001-01-01T00:00:00+01:00|1")}, "invalid_cursor"),  # before year 1 in UTC
        ({"cursor": base64.urlsafe_b64encode(b"\xff\xfe|1").decode()}, "invalid_cursor"),  # not UTF-8
    ],
)
def test_bad_feed_parameters_are_a_400_naming_the_parameter(ada, params, code):
    response = token_client(ada).get(ITEMS, params)

    error = assert_error(response, 400, code)
    [name] = params
    assert name in error["fields"]


def test_counts_leave_out_archived_items(as_user, ada):
    now = timezone.now()
    item(ada)
    item(ada, seen_at=now)
    item(ada, seen_at=now, read_at=now)
    item(ada, archived_at=now)

    response = as_user(ada).get(COUNTS)

    assert response.status_code == 200
    assert response.json() == {"unseen": 1, "unread": 2, "total": 3}


def test_one_item_can_be_fetched_by_id(as_user, ada):
    mine = item(ada, title="Mine")

    response = as_user(ada).get(f"{ITEMS}/{mine.pk}")

    assert response.status_code == 200
    assert response.json()["title"] == "Mine"


@pytest.mark.parametrize("item_id", ["999999", str(HUGE_ID)])
def test_an_unknown_item_is_not_found(ada, item_id):
    client = token_client(ada)

    assert_error(client.get(f"{ITEMS}/{item_id}"), 404, "not_found")
    assert_error(post(client, f"{ITEMS}/{item_id}/read"), 404, "not_found")


def test_an_unknown_mark_is_not_found_in_the_error_shape(ada):
    mine = item(ada)

    assert_error(post(token_client(ada), f"{ITEMS}/{mine.pk}/starred"), 404, "not_found")
    assert_error(post(token_client(ada), "/api/v1/inbox/starred", {"all": True}), 404, "not_found")


# --- marking ----------------------------------------------------------------------------


def test_marking_one_item_read_also_marks_it_seen_and_returns_new_counts(as_user, ada):
    mine = item(ada)
    item(ada)

    response = post(as_user(ada), f"{ITEMS}/{mine.pk}/read")

    assert response.status_code == 200
    body = response.json()
    assert body["item"]["id"] == mine.pk and body["item"]["read"] and body["item"]["seen"]
    assert body["counts"] == {"unseen": 1, "unread": 1, "total": 2}
    mine.refresh_from_db()
    assert mine.read_at is not None and mine.seen_at == mine.read_at


def test_every_mark_moves_the_item_between_states(ada):
    client = token_client(ada)
    mine = item(ada)

    states = {}
    for mark in ["seen", "read", "unread", "archived", "unarchived"]:
        body = post(client, f"{ITEMS}/{mine.pk}/{mark}").json()
        states[mark] = (body["item"]["seen"], body["item"]["read"], body["item"]["archived"], body["counts"]["total"])

    assert states == {
        "seen": (True, False, False, 1),
        "read": (True, True, False, 1),
        "unread": (True, False, False, 1),
        "archived": (True, False, True, 0),
        "unarchived": (True, False, False, 1),
    }


def test_reading_again_keeps_the_first_read_and_seen_times(ada):
    client = token_client(ada)
    earlier = timezone.now() - timedelta(hours=1)
    mine = item(ada, seen_at=earlier, read_at=earlier)

    post(client, f"{ITEMS}/{mine.pk}/read")
    post(client, f"{ITEMS}/{mine.pk}/seen")

    mine.refresh_from_db()
    assert (mine.seen_at, mine.read_at) == (earlier, earlier)


def test_marking_a_list_of_ids(as_user, ada):
    first, second, third = item(ada), item(ada), item(ada)

    response = post(as_user(ada), "/api/v1/inbox/read", {"ids": [first.pk, third.pk]})

    assert response.status_code == 200
    assert response.json() == {"updated": 2, "counts": {"unseen": 1, "unread": 1, "total": 3}}
    assert set(InboxItem.objects.filter(read_at__isnull=True).values_list("pk", flat=True)) == {second.pk}


def test_marking_all_counts_only_the_items_that_changed(ada):
    client = token_client(ada)
    item(ada)
    item(ada)
    item(ada, seen_at=timezone.now(), read_at=timezone.now())

    response = post(client, "/api/v1/inbox/read", {"all": True})

    assert response.json() == {"updated": 2, "counts": {"unseen": 0, "unread": 0, "total": 3}}
    assert post(client, "/api/v1/inbox/archived", {"all": True}).json()["counts"]["total"] == 0
    assert ids(client.get(ITEMS, {"archived": "true"})) != []


@pytest.mark.parametrize(
    "body",
    [
        None,
        {},
        {"ids": [1], "all": True},
        {"all": False},
        {"ids": []},
        {"ids": "1"},
        {"ids": ["one"]},
        {"ids": [0]},
        {"ids": [-4]},
        {"ids": [HUGE_ID]},
        {"ids": [1.5]},
        {"ids": [None]},
        {"ids": list(range(1, 502))},
        {"all": "yes please"},
        [1, 2],
        "all",
    ],
)
def test_a_bad_mark_body_is_a_400(ada, body):
    item(ada)

    response = post(token_client(ada), "/api/v1/inbox/read", body)

    assert_error(response, 400, "invalid")
    assert InboxItem.objects.filter(read_at__isnull=False).count() == 0


def test_malformed_json_is_a_400(ada):
    response = token_client(ada).post("/api/v1/inbox/read", data="{nope", content_type="application/json")

    assert_error(response, 400, "malformed_json")


# --- nobody sees or changes another user's items ----------------------------------------


def before_marking(mark: str) -> dict:
    """Field values from which `mark` changes an item."""
    now = timezone.now()
    return {
        "read": {"read_at": None},
        "unread": {"read_at": now},
        "seen": {"seen_at": None},
        "archived": {"archived_at": None},
        "unarchived": {"archived_at": now},
    }[mark]


@pytest.fixture
def bobs_items(bob):
    return [item(bob, title="Bob's secret"), item(bob, title="Bob's other secret")]


def test_a_user_never_lists_or_counts_another_users_items(as_user, ada, bobs_items):
    mine = item(ada)
    client = as_user(ada)

    assert ids(client.get(ITEMS)) == [mine.pk]
    assert ids(client.get(ITEMS, {"archived": "true"})) == []
    assert client.get(COUNTS).json() == {"unseen": 1, "unread": 1, "total": 1}
    # A cursor names a position, not an owner: one made from bob's item still lists ada's.
    after_bob = cursor_encode(bobs_items[-1])
    assert "Bob" not in json.dumps(client.get(ITEMS, {"cursor": after_bob}).json())


@pytest.mark.parametrize("mark", MARKS)
def test_another_users_item_is_not_found_for_every_mark_and_stays_unchanged(as_user, ada, bobs_items, mark):
    client = as_user(ada)
    target = bobs_items[0]
    InboxItem.objects.filter(pk=target.pk).update(**before_marking(mark))
    before = InboxItem.objects.values().get(pk=target.pk)

    one = post(client, f"{ITEMS}/{target.pk}/{mark}")
    many = post(client, f"/api/v1/inbox/{mark}", {"ids": [target.pk]})

    assert_error(one, 404, "not_found")
    assert_error(many, 404, "not_found")
    assert InboxItem.objects.values().get(pk=target.pk) == before


def test_another_users_item_cannot_be_fetched(as_user, ada, bobs_items):
    response = as_user(ada).get(f"{ITEMS}/{bobs_items[0].pk}")

    error = assert_error(response, 404, "not_found")
    assert "Bob" not in json.dumps(error)


def test_a_list_mixing_own_and_foreign_ids_changes_nothing(ada, bobs_items):
    mine = item(ada)

    response = post(token_client(ada), "/api/v1/inbox/read", {"ids": [mine.pk, bobs_items[0].pk]})

    error = assert_error(response, 404, "not_found")
    assert str(bobs_items[0].pk) in error["fields"]["ids"]
    assert not InboxItem.objects.filter(read_at__isnull=False).exists()


@pytest.mark.parametrize("mark", MARKS)
def test_marking_all_touches_only_the_callers_items(as_user, ada, bobs_items, mark):
    item(ada)
    InboxItem.objects.update(**before_marking(mark))
    bobs_before = list(InboxItem.objects.filter(user__username="bob").values().order_by("pk"))

    response = post(as_user(ada), f"/api/v1/inbox/{mark}", {"all": True})

    assert response.status_code == 200
    assert response.json()["updated"] == 1
    assert list(InboxItem.objects.filter(user__username="bob").values().order_by("pk")) == bobs_before


def test_a_token_for_bob_shows_bob_not_the_signed_in_ada(ada, bob, bobs_items):
    """Header wins over cookie in REST (the header is deliberate; a cookie is ambient), and
    either way the caller sees one user's items: never a mix."""
    client = session_client(ada)
    item(ada)

    response = client.get(ITEMS, HTTP_AUTHORIZATION=f"Inbox-Token {inbox_token_create(bob).token}")

    assert sorted(ids(response)) == sorted(entry.pk for entry in bobs_items)


# --- query counts -----------------------------------------------------------------------

# Session and user (2), or the token's API key and user (2); then items and counts.
FEED_MAX_QUERIES = 4
COUNTS_MAX_QUERIES = 3


@pytest.mark.parametrize("item_count", [1, 25])
def test_feed_queries_do_not_grow_with_items(as_user, ada, item_count, django_assert_max_num_queries):
    for _ in range(item_count):
        item(ada, category=factories.CategoryFactory())
    client = as_user(ada)

    with django_assert_max_num_queries(FEED_MAX_QUERIES):
        response = client.get(ITEMS, {"limit": 100})

    assert len(response.json()["items"]) == item_count


@pytest.mark.parametrize("item_count", [1, 25])
def test_count_queries_do_not_grow_with_items(as_user, ada, item_count, django_assert_max_num_queries):
    for _ in range(item_count):
        item(ada)
    client = as_user(ada)

    with django_assert_max_num_queries(COUNTS_MAX_QUERIES):
        response = client.get(COUNTS)

    assert response.json()["total"] == item_count


# --- hostile input ----------------------------------------------------------------------

HYPOTHESIS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30) | any_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=4),
    max_leaves=20,
)


@HYPOTHESIS
@given(params=st.dictionaries(st.sampled_from(["unread", "archived", "category", "cursor", "limit"]), any_text))
def test_no_feed_query_string_causes_a_server_error(ada, params):
    response = token_client(ada).get(ITEMS, params)

    assert response.status_code in {200, 400}, response.content
    if response.status_code == 400:
        assert set(response.json()["error"]) == {"code", "message", "fields"}


@HYPOTHESIS
@given(
    body=st.fixed_dictionaries({}, optional={"ids": json_values, "all": json_values}) | json_values,
    mark=st.sampled_from(MARKS),
)
def test_no_mark_body_causes_a_server_error(ada, body, mark):
    response = post(token_client(ada), f"/api/v1/inbox/{mark}", body)

    assert response.status_code in {200, 400, 404}, response.content
    if response.status_code != 200:
        assert set(response.json()["error"]) == {"code", "message", "fields"}
