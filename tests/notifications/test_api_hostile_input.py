"""Hostile input: whatever arrives, the API answers with a 2xx or a 4xx in its error shape,
never a 5xx. Hypothesis generates the bodies; PostgreSQL is the stricter judge (jsonb and
text refuse NUL, and no database stores a lone surrogate)."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from tests import factories

URL = "/api/v1/notifications"
HYPOTHESIS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Every code point, lone surrogates included (json.dumps writes those as "\udXXX" escapes).
any_text = st.text(st.characters(exclude_categories=()), max_size=40)
header_text = st.text(st.characters(max_codepoint=255), max_size=300)
huge_integers = st.integers(min_value=-(10**40), max_value=10**40)
json_scalars = st.none() | st.booleans() | huge_integers | st.floats(allow_nan=False, allow_infinity=False) | any_text
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(any_text, children, max_size=5),
    max_leaves=30,
)


known_recipients = st.sampled_from(["ada", "bob", "ada@example.com", "BOB@EXAMPLE.COM", " ada "])
odd_recipients = st.one_of(
    st.sampled_from(["ghost", "0", "-1", "²", "１２", "", "99999999999999999999"]),
    st.integers(min_value=-(10**30), max_value=10**30),
    any_text,
    json_values,
)
# Bodies the API should accept (unless `data` holds a NUL, a lone surrogate or too much).
valid_bodies = st.fixed_dictionaries(
    {
        "category": st.sampled_from(["comment_reply", "password_reset"]),
        "recipients": st.lists(known_recipients, min_size=1, max_size=6),
    },
    optional={
        "data": st.dictionaries(any_text, json_values, max_size=6),
        "priority": st.sampled_from(["high", "normal", "low"]),
        "channels": st.lists(st.sampled_from(["email", "sms", "push", "in_app"]), min_size=1, max_size=4, unique=True),
        "idempotency_key": st.text(min_size=1, max_size=20),
        "dedup_key": st.text(min_size=1, max_size=300),
    },
)
# What may replace one field of a valid body, or arrive as an extra one.
hostile_values = st.one_of(
    json_values,
    st.sampled_from(["nope", "", "high ", "EMAIL", "fax", "comment_reply\x00", "\ud800"]),
    st.lists(known_recipients | odd_recipients, max_size=8),
    st.lists(st.sampled_from(["email", "fax", "", "in_app"]) | json_values, max_size=5),
)
field_names = (
    st.sampled_from(["category", "recipients", "data", "priority", "channels", "idempotency_key", "dedup_key"])
    | any_text
)


@st.composite
def plausible_bodies(draw: st.DrawFn) -> dict:
    """A valid body, then (usually) one field replaced, added or dropped."""
    body = draw(valid_bodies)
    change = draw(st.sampled_from(["none", "replace", "replace", "drop"]))
    if change == "replace":
        body[draw(field_names)] = draw(hostile_values)
    elif change == "drop":
        body.pop(draw(st.sampled_from(sorted(body))))
    return body


def raw_json(value: object, ascii_only: bool) -> bytes:
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


@st.composite
def mutated_json(draw: st.DrawFn) -> bytes:
    """Valid-looking JSON text with one literal swapped for something JSON (or Python) rejects."""
    body = {"category": "comment_reply", "recipients": ["ada"], "data": {"x": "PLACEHOLDER"}}
    replacement = draw(
        st.sampled_from(
            [
                "NaN",
                "Infinity",
                "-Infinity",
                "1e999",
                "-1e999",
                "1" * 5000,
                "0." + "0" * 5000 + "1",
                '"\\u0000"',
                '"\\ud800"',
                '"\\udfff\\ud800"',
                '"\\ud83d\\ude00"',
                "[" * 100_000,
                "{" * 50_000,
                '{"a":' * 2000 + "1" + "}" * 2000,
                "[" * 500 + "]" * 500,
                "[" * 31 + "]" * 31,
                "tru",
                "'single'",
                "undefined",
                '"\x00raw NUL"',
                '"tab\tinside"',
            ]
        )
    )
    return json.dumps(body).replace('"PLACEHOLDER"', replacement).encode()


hostile_bytes = st.one_of(
    st.binary(max_size=300),
    st.builds(raw_json, json_values, st.booleans()),
    st.builds(raw_json, plausible_bodies(), st.booleans()),
    mutated_json(),
    st.builds(
        lambda body, encoding: json.dumps(body, ensure_ascii=False).encode(encoding, "replace"),
        plausible_bodies(),
        st.sampled_from(["utf-16", "utf-32", "latin-1", "cp1252", "utf-8-sig"]),
    ),
    st.builds(lambda depth, char: char.encode() * depth, st.integers(1, 200_000), st.sampled_from(["[", "{", '{"a":'])),
)
content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/json; charset=latin-1",
        "application/vnd.api+json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "",
    ]
)


def assert_answered_well(response) -> None:
    code = response.json()["error"]["code"] if response.status_code >= 400 else ""
    fields = sorted(response.json()["error"]["fields"]) if response.status_code >= 400 else ""
    event(f"HTTP {response.status_code} {code} {fields}")  # shown by --hypothesis-show-statistics
    assert response.status_code < 500, response.content[:500]
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"}
        assert set(body["error"]) == {"code", "message", "fields"}
        assert isinstance(body["error"]["code"], str) and body["error"]["code"]
        assert isinstance(body["error"]["message"], str)
        assert isinstance(body["error"]["fields"], dict)
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in body["error"]["fields"].items())
    else:
        assert response.status_code in {200, 202}
        assert isinstance(response.json()["notifications"], list)


def client_for(raw_key: str) -> APIClient:
    # raise_request_exception=False: a server error must show up as a 500 response to
    # assert on, the way a real client would see it.
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    return client


@pytest.fixture
def world(db) -> str:
    factories.category_with_templates(slug="comment_reply", channels=("email", "in_app"))
    factories.category_with_templates(slug="password_reset", channels=("email",), kind="security")
    factories.UserFactory(username="ada", email="ada@example.com")
    factories.UserFactory(username="bob", email="bob@example.com")
    return factories.api_key()


@HYPOTHESIS
@given(body=plausible_bodies(), ascii_only=st.booleans())
@example(body={"category": "comment_reply", "recipients": ["ada"], "data": {"k": "\ud800"}}, ascii_only=True)
@example(body={"category": "comment_reply", "recipients": ["\udfff"]}, ascii_only=True)
@example(body={"category": "comment_reply", "recipients": ["ada"], "\ud800": 1}, ascii_only=True)
@example(body={"category": "comment_reply", "recipients": ["²"]}, ascii_only=False)
@example(body={"category": "comment_reply", "recipients": ["ada"], "idempotency_key": "a\x00"}, ascii_only=True)
@example(body={"category": "comment_reply", "recipients": ["ada"], "dedup_key": "a\x00"}, ascii_only=True)
@example(body={"category": "comment_reply", "recipients": ["ada"], "dedup_key": "\ud800"}, ascii_only=True)
def test_plausible_bodies_never_cause_a_server_error(world, body, ascii_only):
    response = client_for(world).generic("POST", URL, raw_json(body, ascii_only), content_type="application/json")

    assert_answered_well(response)


@HYPOTHESIS
@given(value=json_values, ascii_only=st.booleans())
def test_arbitrary_json_values_never_cause_a_server_error(world, value, ascii_only):
    response = client_for(world).generic("POST", URL, raw_json(value, ascii_only), content_type="application/json")

    assert_answered_well(response)
    assert response.status_code == 400


@HYPOTHESIS
@given(raw=hostile_bytes, content_type=content_types)
@example(raw=b"[" * 100_000, content_type="application/json")
@example(
    raw=b'{"category": "comment_reply", "recipients": ["ada"], "data": {"x": NaN}}', content_type="application/json"
)
@example(raw=b'{"category": "comment_reply\xff\xfe"}', content_type="application/json")
@example(raw=b"\xff\xfe{\x00}\x00", content_type="application/json")
def test_hostile_bytes_never_cause_a_server_error(world, raw, content_type):
    response = client_for(world).generic("POST", URL, raw, content_type=content_type)

    assert_answered_well(response)


@HYPOTHESIS
@given(idempotency_key=header_text, authorization=header_text | st.just(""), use_real_key=st.booleans())
@example(idempotency_key="a\x00b", authorization="", use_real_key=True)
@example(idempotency_key="", authorization="Api-Key clr_\x00\x00\x00\x00\x00\x00\x00\x00_x", use_real_key=False)
@example(idempotency_key="café", authorization="Api-Key clr_ÿÿÿÿÿÿÿÿ_x", use_real_key=False)
def test_hostile_headers_never_cause_a_server_error(world, idempotency_key, authorization, use_real_key):
    client = client_for(world) if use_real_key else APIClient(raise_request_exception=False)
    headers = {"HTTP_IDEMPOTENCY_KEY": idempotency_key}
    if not use_real_key and authorization:
        headers["HTTP_AUTHORIZATION"] = authorization

    response = client.post(URL, {"category": "comment_reply", "recipients": ["ada"]}, format="json", **headers)

    assert_answered_well(response)
    if not use_real_key:
        assert response.status_code == 401


@HYPOTHESIS
@given(segment=any_text.filter(bool))
def test_hostile_detail_paths_never_cause_a_server_error(world, segment):
    encoded = quote(segment.encode("utf-8", "surrogatepass"), safe="")

    response = client_for(world).get(f"{URL}/{encoded}")

    assert_answered_well(response)
    assert response.status_code == 404


@HYPOTHESIS
@given(data=st.dictionaries(any_text, json_values, max_size=8), ascii_only=st.booleans())
@example(data={"n": 10**40, "f": 1.7976931348623157e308, "z": -0.0, "tiny": 5e-324}, ascii_only=True)
@example(data={"nul": "\x00"}, ascii_only=True)
@example(data={"\x00": "key"}, ascii_only=False)
def test_hostile_data_is_stored_or_refused_by_field(world, data, ascii_only):
    body = {"category": "comment_reply", "recipients": ["ada"], "data": data}

    response = client_for(world).generic("POST", URL, raw_json(body, ascii_only), content_type="application/json")

    assert_answered_well(response)
    assert response.status_code in {202, 400}
    if response.status_code == 400:
        assert set(response.json()["error"]["fields"]) <= {"data", "_body"}


@HYPOTHESIS
@given(host=st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=60))
@example(host="evil.example.com")
@example(host="127.0.0.1:8000@evil")
def test_a_hostile_host_header_gets_the_error_shape(world, host):
    response = client_for(world).post(
        URL, {"category": "comment_reply", "recipients": ["ada"]}, format="json", HTTP_HOST=host
    )

    assert_answered_well(response)
    assert response.status_code in {202, 400}
