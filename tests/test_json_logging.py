import json
import logging

import pytest

from config.json_logging import JsonFormatter, mask_address, mask_text


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("ada@example.com", "a***@example.com"),
        ("+14155550100", "+***0100"),
        ("fcm-token-abcdefghijklmnop", "fcm-to…"),
        ("short", "***"),
        ("", ""),
    ],
)
def test_addresses_are_masked(address, masked):
    assert mask_address(address) == masked


def test_free_text_loses_its_addresses():
    assert mask_text("550 <ada.lovelace@example.com> refused, call +14155550100") == (
        "550 <a***@example.com> refused, call +***0100"
    )


def test_a_record_is_one_json_line_with_the_pipeline_context_masked():
    record = logging.LogRecord("delivery.sending", logging.INFO, __file__, 1, "sent to %s", ("ada@example.com",), None)
    record.delivery_id = 7
    record.channel = "email"
    record.address = "ada@example.com"
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert "\n" not in line
    assert entry["message"] == "sent to a***@example.com"
    assert (entry["delivery_id"], entry["channel"], entry["address"]) == ("7", "email", "a***@example.com")
