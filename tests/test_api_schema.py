"""The OpenAPI description against the API itself: schemathesis reads /api/schema/ from the
app, generates requests for every operation (the documented examples first, then valid and
invalid inputs) and sends them in-process with valid credentials. Every answer must be a
documented status, with the documented content type and a body matching its schema, and
never a 5xx. Also: the Swagger UI page at /api/docs/ loads only Clarion's own static files.

The fixture makes the documented examples real (user 42 "ada", category comment_reply,
notification EXAMPLE_ID, inbox items 1017 and 1018, the example device), so the example
requests succeed and the success bodies get checked too, not only the refusals.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from drf_spectacular.drainage import reset_generator_stats
from hypothesis import HealthCheck, settings
from rest_framework.test import APIClient
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from notifications.api import EXAMPLE_ID
from notifications.api_keys import api_key_create
from notifications.inbox_api_schema import ITEM_EXAMPLE
from notifications.inbox_tokens import inbox_token_create
from tests import factories

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@dataclass(frozen=True)
class Credentials:
    api_key: str
    inbox_token: str

    def headers_for(self, case: schemathesis.Case) -> dict[str, str]:
        """The operation's header credential (its session alternative aside); none for public ones."""
        schemes = {name for requirement in case.operation.definition.raw.get("security", []) for name in requirement}
        if "inboxToken" in schemes:
            return {"Authorization": f"Inbox-Token {self.inbox_token}"}
        if "apiKey" in schemes:
            return {"Authorization": f"Api-Key {self.api_key}"}
        return {}


@pytest.fixture
def credentials(db) -> Credentials:
    api_key, raw_key = api_key_create("schema-test")
    ada = factories.UserFactory(id=42, username="ada", email="ada@example.com")
    category = factories.category_with_templates("comment_reply")
    factories.NotificationFactory(id=EXAMPLE_ID, request__api_key=api_key, recipient=ada, category=category)
    for item_id in (ITEM_EXAMPLE["id"], ITEM_EXAMPLE["id"] + 1):
        factories.InboxItemFactory(id=item_id, user=ada, category=category)
    factories.DeviceFactory(user=ada, token="fcm-registration-token")
    return Credentials(api_key=raw_key, inbox_token=inbox_token_create(ada, api_key=api_key).token)


# Loaded when the module is collected (pytest-django has set Django up by then): schemathesis'
# fixture-based loader does not run on this pytest. Building the schema touches no database.
APP = WSGIHandler()
schema = schemathesis.openapi.from_wsgi("/api/schema/", APP)


@pytest.fixture
def app(db) -> Iterator[WSGIHandler]:
    """Clarion's WSGI app, called in this thread inside the test's transaction. As Django's
    test client does, the end of a request must not close that transaction's connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield APP
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


# Derandomized: every run sends the same cases, so a failure in CI is a regression in the API
# or its description, never a new random find that passes on the retry.
@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api_answers_as_its_schema_says(case: schemathesis.Case, app: WSGIHandler, credentials: Credentials) -> None:
    case.call_and_validate(headers=credentials.headers_for(case), checks=CHECKS, app=app)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("delete", "/api/v1/devices/a%00b", None),
        ("patch", "/api/v1/users/42/preferences", {"categories": {"comment\x00reply": {"email": True}}}),
        ("patch", "/api/v1/users/42/preferences", {"categories": {"comment_reply": {"email": {"max_per_day": 2**31}}}}),
        ("patch", "/api/v1/users/42/preferences", {"categories": {"comment_reply": {"email": {"max_per_day": 2**70}}}}),
    ],
)
def test_values_no_database_column_holds_are_refused_not_crashed(
    credentials: Credentials, method: str, path: str, body: dict | None
) -> None:
    """Inputs the generated cases do not reach (a NUL in a path, a cap past the column's
    range): PostgreSQL or SQLite refuse them with an error, so the API must refuse them first."""
    client = APIClient(HTTP_AUTHORIZATION=f"Api-Key {credentials.api_key}")
    client.raise_request_exception = False
    response = getattr(client, method)(path, body, format="json")
    assert response.status_code in (400, 404)
    assert set(response.json()["error"]) == {"code", "message", "fields"}


def test_schema_is_valid_openapi_and_generates_without_warnings(tmp_path: Path) -> None:
    """`manage.py spectacular --validate --fail-on-warn`: raises on an undocumented view, an
    unresolvable field or an invalid document."""
    reset_generator_stats()
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3.")


def test_schema_documents_every_api_operation_with_its_errors() -> None:
    raw = schema.raw_schema
    operations = {(method.upper(), path) for path, item in raw["paths"].items() for method in item}
    assert operations == {
        ("GET", "/api/v1/"),
        ("POST", "/api/v1/notifications"),
        ("GET", "/api/v1/notifications/{notification_id}"),
        ("POST", "/api/v1/users/{user_id}/inbox-token"),
        ("GET", "/api/v1/inbox/items"),
        ("GET", "/api/v1/inbox/counts"),
        ("GET", "/api/v1/inbox/items/{item_id}"),
        ("POST", "/api/v1/inbox/items/{item_id}/{mark}"),
        ("POST", "/api/v1/inbox/{mark}"),
        ("GET", "/api/v1/users/{user_id}/preferences"),
        ("PUT", "/api/v1/users/{user_id}/preferences"),
        ("PATCH", "/api/v1/users/{user_id}/preferences"),
        ("POST", "/api/v1/devices"),
        ("DELETE", "/api/v1/devices/{token}"),
    }
    send = raw["paths"]["/api/v1/notifications"]["post"]
    assert {"200", "202", "400", "401", "409", "413", "415", "429", "503"} <= set(send["responses"])
    assert "Retry-After" in send["responses"]["429"]["headers"]
    assert "Retry-After" in send["responses"]["503"]["headers"]
    error = {"$ref": "#/components/schemas/Error"}
    assert send["responses"]["400"]["content"]["application/json"]["schema"] == error
    api_key = raw["components"]["securitySchemes"]["apiKey"]
    assert (api_key["type"], api_key["in"], api_key["name"]) == ("apiKey", "header", "Authorization")
    assert "Api-Key <key>" in api_key["description"]
    assert send["security"] == [{"apiKey": []}]


def test_docs_page_loads_only_local_static_files() -> None:
    client = Client()
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="swagger-ui"' in html
    assert '"/api/schema/"' in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sorted(assets) == ["/static/swagger-ui/swagger-ui-bundle.js", "/static/swagger-ui/swagger-ui.css"]
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert b"".join(response.streaming_content if response.streaming else [response.content])
    assert "://" not in html
