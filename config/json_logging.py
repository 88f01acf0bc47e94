"""JSON-lines logging for Clarion's own loggers, with addresses and tokens masked.

Every record becomes one JSON object; the pipeline passes `notification_id`,
`delivery_id`, `channel`, `provider`, `outcome` and `address` as `extra`, and `address`
is masked here so that no log line ever carries a whole email, phone number or token.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

CONTEXT_FIELDS = ("notification_id", "delivery_id", "channel", "provider", "outcome", "error_code", "address")
EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*(@[A-Za-z0-9.-]+)")
PHONE = re.compile(r"\+\d{4,}(\d{4})")


def mask_address(value: str) -> str:
    """Keep just enough to tell addresses apart in an incident: a@example.com → a***@example.com,
    +14155550100 → +***0100, long tokens → their first 6 characters."""
    if not value:
        return value
    if "@" in value:
        return EMAIL.sub(r"\1***\2", value)
    if PHONE.fullmatch(value):
        return PHONE.sub(r"+***\1", value)
    return value[:6] + "…" if len(value) > 8 else "***"


def mask_text(text: str) -> str:
    """Mask any email address or phone number inside free text (provider error messages)."""
    return PHONE.sub(r"+***\1", EMAIL.sub(r"\1***\2", text))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_text(record.getMessage()),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = mask_address(str(value)) if name == "address" else str(value)
        if record.exc_info:
            entry["exception"] = mask_text(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)
