"""A JSON parser that refuses what would otherwise crash later: bodies over the size cap,
nesting deep enough to exhaust the stack, and NaN/Infinity (not JSON, and PostgreSQL's
jsonb rejects them)."""

from __future__ import annotations

import json
import math
from typing import IO, Any

from django.conf import settings
from rest_framework import exceptions
from rest_framework.parsers import JSONParser


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


class BoundedJSONParser(JSONParser):
    def parse(self, stream: IO[bytes], media_type: str | None = None, parser_context: dict | None = None) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise PayloadTooLarge(f"The request body exceeds {limit} bytes.")
        try:
            value = json.loads(
                raw.decode("utf-8"),
                parse_constant=_reject_constant,
                parse_float=_finite_float,
            )
            # A "\ud800" escape decodes to a lone surrogate, which no database, hash or
            # response can encode; re-encoding finds one anywhere in the value.
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except (UnicodeError, ValueError, RecursionError) as error:
            raise exceptions.ParseError(f"Malformed JSON: {str(error)[:200]}", code="malformed_json") from error
        return value
