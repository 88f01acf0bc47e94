"""The Twilio SMS adapter through the real `twilio` client against a local Messages API,
its error table, and the SMS chain it heads."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

import config.settings as config_settings
from delivery.chains import provider_chain
from delivery.providers.base import Outcome, OutgoingMessage, parse_retry_after
from delivery.providers.twilio import TwilioSettings, TwilioSmsProvider, translate_twilio_error
from scripts.embedded_redis import free_port
from tests.support.twilio_stub import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, TwilioStub

MESSAGE = OutgoingMessage(channel="sms", reference="42", to="+15555550123", body="Your code is 1234")


@pytest.fixture
def twilio_stub():
    stub = TwilioStub().start()
    yield stub
    stub.stop()


def twilio_provider(base_url: str, auth_token: str = AUTH_TOKEN, timeout_seconds: float = 5) -> TwilioSmsProvider:
    return TwilioSmsProvider(
        TwilioSettings(
            account_sid=ACCOUNT_SID,
            auth_token=auth_token,
            from_number=FROM_NUMBER,
            timeout_seconds=timeout_seconds,
            api_base_url=base_url,
        )
    )


def test_twilio_accepts_sms_and_returns_its_message_sid(twilio_stub):
    result = twilio_provider(twilio_stub.url).send(MESSAGE)

    assert result.outcome == Outcome.DELIVERED
    [sent] = twilio_stub.messages()
    assert result.provider_message_id == sent.sid
    assert sent.sid.startswith("SM")
    assert (sent.account_sid, sent.to, sent.from_, sent.body) == (
        ACCOUNT_SID,
        "+15555550123",
        FROM_NUMBER,
        "Your code is 1234",
    )


def test_twilio_region_in_environment_does_not_redirect_a_local_api(twilio_stub, monkeypatch):
    monkeypatch.setenv("TWILIO_REGION", "ie1")
    monkeypatch.setenv("TWILIO_EDGE", "dublin")

    result = twilio_provider(twilio_stub.url).send(MESSAGE)

    assert result.outcome == Outcome.DELIVERED
    assert len(twilio_stub.messages()) == 1


def test_twilio_invalid_number_is_permanent_21211(twilio_stub):
    result = twilio_provider(twilio_stub.url).send(
        OutgoingMessage(channel="sms", reference="42", to="12345", body="hi")
    )

    assert (result.outcome, result.error_code) == (Outcome.PERMANENT, "21211")
    assert "12345" in result.error_message
    assert twilio_stub.messages() == []


def test_twilio_unsubscribed_recipient_is_permanent_21610(twilio_stub):
    twilio_stub.behaviour.unsubscribed.add(MESSAGE.to)

    result = twilio_provider(twilio_stub.url).send(MESSAGE)

    assert (result.outcome, result.error_code) == (Outcome.PERMANENT, "21610")
    assert "unsubscribed" in result.error_message


def test_twilio_bad_credentials_are_permanent_and_reported_as_misconfiguration(twilio_stub, caplog):
    caplog.set_level(logging.ERROR, logger="delivery.providers.twilio")

    result = twilio_provider(twilio_stub.url, auth_token="wrong-token").send(MESSAGE)

    assert (result.outcome, result.error_code) == (Outcome.PERMANENT, "20003")
    assert result.error_message.startswith("misconfiguration:")
    assert "20003" in caplog.text
    assert twilio_stub.messages() == []


@pytest.mark.parametrize(("retry_after", "expected_wait"), [("7", 7.0), (None, None)])
def test_twilio_too_many_requests_is_retryable_and_keeps_retry_after(twilio_stub, retry_after, expected_wait):
    twilio_stub.fail_next(429, 20429, "Too Many Requests", retry_after=retry_after)

    result = twilio_provider(twilio_stub.url).send(MESSAGE)

    assert (result.outcome, result.error_code) == (Outcome.RETRYABLE, "20429")
    assert result.retry_after_seconds == expected_wait
    assert twilio_stub.messages() == []


@pytest.mark.parametrize(
    ("status", "code", "json_body", "expected_code"),
    [
        (500, 20500, True, "20500"),
        (503, 20503, True, "20503"),
        (502, None, False, "502"),  # an HTML page from a proxy: the status stands in for the code
    ],
)
def test_twilio_server_errors_are_retryable_and_not_retried_by_the_client(
    twilio_stub, status, code, json_body, expected_code
):
    twilio_stub.fail_next(status, code, "Service unavailable", json_body=json_body)

    result = twilio_provider(twilio_stub.url).send(MESSAGE)

    assert (result.outcome, result.error_code) == (Outcome.RETRYABLE, expected_code)
    assert twilio_stub.request_count == 1
    # The next attempt (Celery's) goes through.
    assert twilio_provider(twilio_stub.url).send(MESSAGE).outcome == Outcome.DELIVERED


def test_twilio_unanswered_request_times_out_as_retryable(twilio_stub):
    twilio_stub.behaviour.hold_seconds = 60

    result = twilio_provider(twilio_stub.url, timeout_seconds=0.2).send(MESSAGE)

    assert (result.outcome, result.error_code) == (Outcome.RETRYABLE, "timeout")


def test_twilio_refused_connection_is_retryable():
    result = twilio_provider(f"http://127.0.0.1:{free_port()}").send(MESSAGE)

    assert (result.outcome, result.error_code) == (Outcome.RETRYABLE, "connection_error")


@pytest.mark.parametrize(
    ("status", "code", "outcome"),
    [
        (400, 21211, Outcome.PERMANENT),
        (400, 21610, Outcome.PERMANENT),
        (400, 21614, Outcome.PERMANENT),
        (401, 20003, Outcome.PERMANENT),
        (404, 20404, Outcome.PERMANENT),
        (429, 20429, Outcome.RETRYABLE),
        (429, None, Outcome.RETRYABLE),
        (400, 21611, Outcome.RETRYABLE),
        (500, 20500, Outcome.RETRYABLE),
        (503, 503, Outcome.RETRYABLE),
        (504, None, Outcome.RETRYABLE),
        (400, 29999, Outcome.PERMANENT),  # an unknown client error
        (502, 29998, Outcome.RETRYABLE),  # an unknown server error
    ],
)
def test_twilio_error_table(status, code, outcome):
    result = translate_twilio_error(status, code, "message")

    assert result.outcome == outcome
    assert result.error_code == str(code or status)


@pytest.mark.parametrize("code", [20003, 20404, 21408, 21606])
def test_twilio_configuration_errors_say_so(code):
    result = translate_twilio_error(400, code, "rejected")

    assert result.outcome == Outcome.PERMANENT
    assert result.error_message == "misconfiguration: rejected"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("30", 30.0),
        (" 5 ", 5.0),
        ("Mon, 01 Jun 2026 12:00:45 GMT", 45.0),
        ("Mon, 01 Jun 2026 11:59:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_header_is_seconds_or_an_http_date(header, expected):
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

    assert parse_retry_after(header, now=now) == expected


@pytest.fixture
def fresh_chains():
    provider_chain.cache_clear()
    yield
    provider_chain.cache_clear()


def test_sms_chain_is_built_from_settings_in_order(settings, fresh_chains):
    settings.CLARION_SMS_PROVIDERS = ["twilio", "sns", "outbox"]
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.TWILIO_FROM_NUMBER = FROM_NUMBER

    assert [provider.name for provider in provider_chain("sms")] == ["twilio", "sns", "outbox"]


@pytest.mark.parametrize(
    ("account_sid", "aws_key", "expected"),
    [
        (ACCOUNT_SID, "AKIA", ["twilio", "sns"]),
        (ACCOUNT_SID, "", ["twilio"]),
        ("", "AKIA", ["sns"]),
        ("", "", ["outbox"]),
    ],
)
def test_default_sms_chain_follows_the_credentials_present(monkeypatch, account_sid, aws_key, expected):
    monkeypatch.setattr(config_settings, "TWILIO_ACCOUNT_SID", account_sid)
    monkeypatch.setattr(config_settings, "AWS_ACCESS_KEY_ID", aws_key)

    assert config_settings._default_sms_chain() == expected
