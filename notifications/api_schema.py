"""What every endpoint's OpenAPI description shares: the one error body, the credential
schemes, and the error responses the views list.

Where the schema wiring lives: `/api/schema/` and `/api/docs/` are routes in config/urls.py and
SPECTACULAR_SETTINGS sits in config/settings.py, like every other route and setting. The
shared descriptions are here, next to api_errors.py and api_auth.py whose behaviour they
describe, so a change to the error shape or a credential has its description one file away.
Each API module describes its own operations with `@extend_schema` on the view; the docs page
is notifications/api_docs.py.

drf-spectacular registers the extensions below (the two credential schemes, the two custom
serializer fields) when this module is imported; every API module imports it for the error
responses, so they are known before any schema is built.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerFieldExtension
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from notifications.api_errors import BODY_FIELD, DATABASE_UNAVAILABLE_MESSAGE, error_body
from notifications.inbox_feed import MAX_ID


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable and machine-readable, e.g. `invalid`, `not_found`, `rate_limited`.")
    message = serializers.CharField(help_text="For people; the first problem when there are several.")
    fields = serializers.DictField(
        child=serializers.CharField(),
        help_text=f"Problem per field: body fields (dotted for nested ones, `{BODY_FIELD}` for the whole body), "
        "query parameters or headers. Empty when no field is to blame.",
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "notifications.api_auth.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "An app's API key, sent as `Authorization: Api-Key <key>` (the value includes the "
            "`Api-Key ` prefix). Keys are made by `manage.py clarion_apikey` or in the admin.",
        }


class InboxTokenScheme(OpenApiAuthenticationExtension):
    target_class = "notifications.inbox_auth.InboxTokenAuthentication"
    name = "inboxToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A short-lived token for one end user's front end, minted by the app with "
            "`POST /api/v1/users/{user_id}/inbox-token`, sent as `Authorization: Inbox-Token <token>`.",
        }


class RecipientFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "notifications.serializers.RecipientField"

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        return {
            "oneOf": [
                {"type": "integer", "minimum": 1, "description": "A user id."},
                {"type": "string", "minLength": 1, "maxLength": 254, "description": "A user id, username or email."},
            ]
        }


class DataFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "notifications.serializers.DataField"

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        return {
            "type": "object",
            "additionalProperties": True,
            "description": "Any JSON object up to 64 KiB and 32 levels deep, for the templates "
            "(`{{ author }}` or `{{ data.author }}`).",
        }


def error_example(code: str, message: str, fields: dict[str, str] | None = None) -> OpenApiExample:
    return OpenApiExample(code, value=error_body(code, message, fields))


def error_response(description: str, *examples: OpenApiExample) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description, examples=list(examples))


def not_found(message: str, fields: dict[str, str]) -> OpenApiResponse:
    return error_response(
        "Nothing by that id that these credentials may see (an unmatched path is a 404 in the same shape).",
        error_example("not_found", message, fields),
    )


MALFORMED_JSON_EXAMPLE = error_example(
    "malformed_json",
    "Malformed JSON: Expecting value: line 1 column 1 (char 0)",
    {BODY_FIELD: "Malformed JSON: Expecting value: line 1 column 1 (char 0)"},
)


def invalid(*examples: OpenApiExample) -> OpenApiResponse:
    """The 400 of an endpoint that reads a JSON body, with examples of its own problems."""
    return error_response(
        "The request is invalid: `fields` names every problem found.", *examples, MALFORMED_JSON_EXAMPLE
    )


API_KEY_REFUSED = error_response(
    "No API key, or one that is unknown or revoked.",
    error_example("missing_api_key", "Authentication credentials were not provided."),
    error_example("invalid_api_key", "The API key is unknown or revoked."),
)
INBOX_REFUSED = error_response(
    "Neither a signed-in session nor a valid inbox token.",
    error_example("not_authenticated", "Sign in, or send the header 'Authorization: Inbox-Token <token>'."),
    error_example("invalid_inbox_token", "The inbox token is invalid or expired."),
)
CSRF_REFUSED = error_response(
    "A write by a signed-in session without its CSRF token (header credentials need none).",
    error_example("permission_denied", "CSRF Failed: CSRF token missing."),
)
TOO_LARGE = error_response(
    "The body is over the size limit (1 MiB).",
    error_example("payload_too_large", "The request body exceeds 1048576 bytes."),
)
NOT_JSON = error_response(
    "The body is not sent as `application/json`.",
    error_example(
        "unsupported_media_type",
        'Unsupported media type "text/plain" in request.',
        {"Content-Type": "Send the body as application/json."},
    ),
)
RATE_LIMITED_EXAMPLE = error_example(
    "rate_limited",
    "Too many requests with this API key: the limit is 1000 requests/s, burst 2000. "
    "Retry after the Retry-After header's seconds.",
    {"api_key": "Over its rate limit of 1000 requests/s, burst 2000."},
)
RATE_LIMITED = error_response(
    "Too many requests with this API key (every request made with a key counts). Retry after `Retry-After` seconds.",
    RATE_LIMITED_EXAMPLE,
)
DATABASE_UNAVAILABLE = error_response(
    "The database could not be reached (a restart, a failover). Retry after `Retry-After` seconds.",
    error_example("database_unavailable", DATABASE_UNAVAILABLE_MESSAGE, {}),
)
RETRY_AFTER_HEADER = {
    "description": "Seconds to wait before retrying.",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}


def retry_after_document(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: every 429 and 503 carries `Retry-After`, whichever
    view lists it (DRF sets the header from the refusal's wait)."""
    for path in result.get("paths", {}).values():
        for operation in path.values():
            for code in ("429", "503"):
                response = operation.get("responses", {}).get(code)
                if response is not None:
                    response.setdefault("headers", {})["Retry-After"] = RETRY_AFTER_HEADER
    return result


USER_ID = OpenApiParameter(
    "user_id",
    {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    OpenApiParameter.PATH,
    description="The user's id in Clarion.",
    examples=[OpenApiExample("example", value=42)],
)


def api_key_errors() -> dict[int, OpenApiResponse]:
    """The refusals every API-key endpoint may give before its view runs (checking the key
    needs the database)."""
    return {401: API_KEY_REFUSED, 429: RATE_LIMITED, 503: DATABASE_UNAVAILABLE}
