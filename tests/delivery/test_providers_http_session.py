"""The HTTP providers' sessions take the environment's proxy and CA bundle settings once, when
built, instead of on every request (delivery/providers/http_session.py), and still honour them."""

from __future__ import annotations

import pytest
import requests

from delivery.providers.base import Outcome, OutgoingMessage
from delivery.providers.http_session import session_environment_freeze
from delivery.providers.twilio import TwilioSettings, TwilioSmsProvider
from scripts.embedded_redis import free_port
from tests.support.twilio_stub import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, TwilioStub

MESSAGE = OutgoingMessage(channel="sms", reference="42", to="+15555550123", body="Your code is 1234")
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@pytest.fixture(autouse=True)
def no_proxy_settings(monkeypatch):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def twilio_stub():
    stub = TwilioStub().start()
    yield stub
    stub.stop()


def _twilio(base_url: str) -> TwilioSmsProvider:
    return TwilioSmsProvider(
        TwilioSettings(
            account_sid=ACCOUNT_SID,
            auth_token=AUTH_TOKEN,
            from_number=FROM_NUMBER,
            timeout_seconds=5,
            api_base_url=base_url,
        )
    )


def test_an_sms_goes_through_the_proxy_the_environment_names(twilio_stub, monkeypatch):
    # The stub stands for the proxy: the API's host does not exist, so only the proxy can answer.
    monkeypatch.setenv("HTTP_PROXY", twilio_stub.url)

    result = _twilio("http://api.twilio.example.invalid").send(MESSAGE)

    assert result.outcome == Outcome.DELIVERED
    [sent] = twilio_stub.messages()
    assert sent.body == "Your code is 1234"


def test_no_proxy_exempts_the_providers_host(twilio_stub, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")

    result = _twilio(twilio_stub.url).send(MESSAGE)

    assert result.outcome == Outcome.DELIVERED
    assert len(twilio_stub.messages()) == 1


def test_settings_are_read_once_when_the_client_is_built(twilio_stub, monkeypatch):
    provider = _twilio(twilio_stub.url)
    assert provider.send(MESSAGE).outcome == Outcome.DELIVERED
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")

    assert provider.send(MESSAGE).outcome == Outcome.DELIVERED
    assert len(twilio_stub.messages()) == 2


def test_the_ca_bundle_variable_becomes_the_sessions_verify_path(monkeypatch, tmp_path):
    bundle = tmp_path / "ca.pem"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    session = requests.Session()

    session_environment_freeze(session, "https://fcm.googleapis.com/v1/projects/p/messages:send")

    assert session.verify == str(bundle)
    assert session.trust_env is False
    settings = session.merge_environment_settings("https://fcm.googleapis.com/", {}, None, None, None)
    assert settings["verify"] == str(bundle) and settings["proxies"] == {}
