"""The SNS SMS adapter through boto3 against a real SNS API (moto on 127.0.0.1), against a
server answering with SNS errors moto cannot produce, and its error table."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from delivery.providers.base import Outcome, OutgoingMessage
from delivery.providers.sns import SnsSmsProvider, translate_client_error, translate_sns_error
from scripts.embedded_redis import free_port
from tests.support.moto_sns import REGION, MotoSnsServer, SnsErrorServer, sns_env

MESSAGE = OutgoingMessage(channel="sms", reference="42", to="+15555550123", body="Your code is 1234")


@pytest.fixture(scope="module")
def moto_sns_module():
    server = MotoSnsServer().start()
    yield server
    server.stop()


@pytest.fixture
def moto_sns(moto_sns_module):
    moto_sns_module.reset()
    yield moto_sns_module
    moto_sns_module.reset()


@pytest.fixture
def sns_provider(monkeypatch):
    """Build the adapter as a worker would, with boto3 finding the endpoint in the environment."""

    def build(endpoint_url: str, timeout_seconds: float = 5) -> SnsSmsProvider:
        for name, value in sns_env(endpoint_url).items():
            monkeypatch.setenv(name, value)
        return SnsSmsProvider(region=REGION, timeout_seconds=timeout_seconds)

    return build


@pytest.fixture
def sns_error_server():
    servers: list[SnsErrorServer] = []

    def start(**kwargs: object) -> SnsErrorServer:
        server = SnsErrorServer(**kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def test_sns_publishes_sms_and_returns_its_message_id(moto_sns, sns_provider):
    result = sns_provider(moto_sns.url).send(MESSAGE)

    assert result.outcome == Outcome.DELIVERED
    [published] = moto_sns.published_sms()
    assert result.provider_message_id == published.message_id
    assert (published.phone_number, published.message) == ("+15555550123", "Your code is 1234")


def test_sns_number_not_in_e164_form_is_permanent(moto_sns, sns_provider):
    result = sns_provider(moto_sns.url).send(OutgoingMessage(channel="sms", reference="42", to="call-me", body="hi"))

    assert (result.outcome, result.error_code) == (Outcome.PERMANENT, "InvalidParameter")
    assert "E164" in result.error_message
    assert moto_sns.published_sms() == []


def test_sns_without_credentials_is_a_permanent_misconfiguration(moto_sns, sns_provider, monkeypatch):
    sns_provider(moto_sns.url)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    # boto3's default session keeps the credentials it found for earlier clients.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    provider = SnsSmsProvider(region=REGION, timeout_seconds=5)

    result = provider.send(MESSAGE)

    assert (result.outcome, result.error_code) == (Outcome.PERMANENT, "NoCredentials")
    assert result.error_message.startswith("misconfiguration:")


@pytest.mark.parametrize(
    ("status", "code"),
    [(429, "Throttled"), (400, "Throttling"), (500, "InternalError"), (503, "ServiceUnavailable"), (502, "BadGateway")],
)
def test_sns_throttling_and_server_errors_are_retryable_and_not_retried_by_botocore(
    sns_error_server, sns_provider, status, code
):
    server = sns_error_server(status=status, code=code)

    result = sns_provider(server.url).send(MESSAGE)

    assert (result.outcome, result.error_code) == (Outcome.RETRYABLE, code)
    assert server.request_count == 1


@pytest.mark.parametrize(("status", "code"), [(403, "AuthorizationError"), (400, "ParameterValueInvalid")])
def test_sns_rejections_are_permanent(sns_error_server, sns_provider, status, code):
    server = sns_error_server(status=status, code=code, message="no")

    result = sns_provider(server.url).send(MESSAGE)

    assert (result.outcome, result.error_code, result.error_message) == (Outcome.PERMANENT, code, "no")


def test_sns_unanswered_request_times_out_as_retryable(sns_error_server, sns_provider):
    server = sns_error_server(hold_seconds=60)

    result = sns_provider(server.url, timeout_seconds=0.2).send(MESSAGE)

    assert (result.outcome, result.error_code) == (Outcome.RETRYABLE, "timeout")
    assert server.request_count == 1


def test_sns_refused_connection_is_retryable(sns_provider):
    result = sns_provider(f"http://127.0.0.1:{free_port()}").send(MESSAGE)

    assert (result.outcome, result.error_code) == (Outcome.RETRYABLE, "connection_error")


@pytest.mark.parametrize(
    ("code", "status", "outcome"),
    [
        ("InvalidParameter", 400, Outcome.PERMANENT),
        ("ParameterValueInvalid", 400, Outcome.PERMANENT),
        ("AuthorizationError", 403, Outcome.PERMANENT),
        ("InvalidClientTokenId", 403, Outcome.PERMANENT),
        ("KMSDisabled", 400, Outcome.PERMANENT),
        ("KMSThrottling", 400, Outcome.RETRYABLE),
        ("Throttled", 429, Outcome.RETRYABLE),
        ("Throttling", 400, Outcome.RETRYABLE),
        ("InternalError", 500, Outcome.RETRYABLE),
        ("SomethingNew", 400, Outcome.PERMANENT),
        ("SomethingNew", 429, Outcome.RETRYABLE),
        ("SomethingNew", 503, Outcome.RETRYABLE),
    ],
)
def test_sns_error_table(code, status, outcome):
    result = translate_sns_error(code, "message", status)

    assert (result.outcome, result.error_code, result.error_message) == (outcome, code, "message")


def test_sns_client_error_without_a_code_falls_back_on_the_status():
    error = ClientError({"Error": {}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "Publish")

    result = translate_client_error(error)

    assert (result.outcome, result.error_code) == (Outcome.RETRYABLE, "503")
