"""The SES adapter against a real SES API (moto on 127.0.0.1), and its error table."""

from __future__ import annotations

from email import message_from_string, policy

import pytest
import requests
from botocore.exceptions import ClientError

from delivery.providers.base import Outcome, OutgoingMessage
from delivery.providers.ses import SesEmailProvider, translate_client_error
from scripts.embedded_redis import free_port
from tests.support.fault_proxy import Fault
from tests.support.moto_server import REGION, SENDER, ses_env

MESSAGE = OutgoingMessage(
    channel="email", reference="42", to="ada@example.com", subject="Hello Ada", body="Hi Ada, this is your message."
)


@pytest.fixture
def ses_provider(monkeypatch):
    """Build the adapter as a worker would, with boto3 finding the endpoint in the environment."""

    def build(endpoint_url: str) -> SesEmailProvider:
        for name, value in ses_env(endpoint_url).items():
            monkeypatch.setenv(name, value)
        return SesEmailProvider(sender=SENDER, region=REGION, timeout_seconds=5)

    return build


def test_ses_accepts_email_from_verified_sender_and_returns_its_message_id(moto_server, ses_provider):
    moto_server.verify_sender()

    result = ses_provider(moto_server.url).send(MESSAGE)

    assert result.outcome == Outcome.DELIVERED
    [sent] = moto_server.sent_emails()
    assert result.provider_message_id == sent.message_id
    assert (sent.source, sent.to, sent.subject, sent.body) == (
        SENDER,
        ["ada@example.com"],
        "Hello Ada",
        "Hi Ada, this is your message.",
    )


def test_ses_sends_the_html_part_when_there_is_one(moto_server, ses_provider):
    moto_server.verify_sender()
    message = OutgoingMessage(
        channel="email", reference="43", to="ada@example.com", subject="Hi", body="text", html_body="<p>html</p>"
    )

    result = ses_provider(moto_server.url).send(message)

    assert result.outcome == Outcome.DELIVERED
    # moto keeps the HTML part of a two-part message.
    assert [sent.body for sent in moto_server.sent_emails()] == ["<p>html</p>"]


def test_ses_message_with_an_unsubscribe_url_goes_as_mime_with_the_one_click_headers(moto_server, ses_provider):
    moto_server.verify_sender()
    url = "https://notify.example.com/unsubscribe/" + "t" * 100
    message = OutgoingMessage(
        channel="email",
        reference="44",
        to="ada@example.com",
        subject="Hi",
        body=f"text\n\nUnsubscribe: {url}",
        html_body="<p>html</p>",
        unsubscribe_url=url,
    )

    result = ses_provider(moto_server.url).send(message)

    assert result.outcome == Outcome.DELIVERED
    # moto drops the headers of Simple content, so the adapter sends raw MIME; moto keeps it whole.
    [raw] = requests.get(f"{moto_server.url}/moto-api/data.json", timeout=10).json()["ses"]["RawMessage"]
    assert raw["id"] == result.provider_message_id
    sent = message_from_string(raw["raw_data"], policy=policy.default)
    # The long header is folded onto a continuation line; unfolded, only whitespace precedes it.
    assert sent["List-Unsubscribe"].strip() == f"<{url}>"
    assert sent["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert (sent["From"], sent["To"], sent["Subject"]) == (SENDER, "ada@example.com", "Hi")
    assert sent.get_body(("plain",)).get_content() == f"text\n\nUnsubscribe: {url}"
    assert sent.get_body(("html",)).get_content() == "<p>html</p>"


def test_ses_unverified_sender_is_a_permanent_message_rejected(moto_server, ses_provider):
    result = ses_provider(moto_server.url).send(MESSAGE)

    assert result.outcome == Outcome.PERMANENT
    assert result.error_code == "MessageRejected"
    assert "not verified" in result.error_message
    assert moto_server.sent_emails() == []


@pytest.mark.parametrize(
    ("fault", "expected_code"),
    [
        (Fault(429, "TooManyRequestsException", "Maximum sending rate exceeded."), "TooManyRequestsException"),
        (Fault(503, "ServiceUnavailable", "Service unavailable."), "ServiceUnavailable"),
        (Fault(500, "SomeNewServerFault", "Internal error."), "SomeNewServerFault"),
    ],
)
def test_ses_throttling_and_server_errors_are_retryable_and_left_to_celery(
    moto_server, ses_fault_proxy, ses_provider, fault, expected_code
):
    moto_server.verify_sender()
    provider = ses_provider(ses_fault_proxy.url)
    ses_fault_proxy.fail_next(1, fault)

    result = provider.send(MESSAGE)

    assert result.outcome == Outcome.RETRYABLE
    assert result.error_code == expected_code
    assert result.error_message == fault.message
    # botocore made one request: retries are Celery's, visible in the delivery log.
    assert ses_fault_proxy.requests_seen == 1
    assert moto_server.sent_emails() == []


def test_ses_request_through_the_proxy_is_accepted_once_the_fault_has_passed(
    moto_server, ses_fault_proxy, ses_provider
):
    moto_server.verify_sender()
    provider = ses_provider(ses_fault_proxy.url)
    ses_fault_proxy.fail_next(1)

    first, second = provider.send(MESSAGE), provider.send(MESSAGE)

    assert (first.outcome, second.outcome) == (Outcome.RETRYABLE, Outcome.DELIVERED)
    assert ses_fault_proxy.requests_seen == 2
    assert [sent.message_id for sent in moto_server.sent_emails()] == [second.provider_message_id]


def test_ses_connection_refused_is_retryable(ses_provider):
    closed_port = free_port()

    result = ses_provider(f"http://127.0.0.1:{closed_port}").send(MESSAGE)

    assert result.outcome == Outcome.RETRYABLE
    assert result.error_code == "ConnectionError"


def _client_error(code: str | None, status: int, message: str = "details") -> ClientError:
    error = {"Message": message} if code is None else {"Code": code, "Message": message}
    return ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": status}}, "SendEmail")


@pytest.mark.parametrize(
    ("code", "status", "outcome", "provider_fault"),
    [
        ("MessageRejected", 400, Outcome.PERMANENT, False),
        ("MailFromDomainNotVerifiedException", 400, Outcome.PERMANENT, True),
        ("AccountSuspendedException", 400, Outcome.PERMANENT, True),
        ("SendingPausedException", 400, Outcome.PERMANENT, True),
        ("BadRequestException", 400, Outcome.PERMANENT, False),
        ("NotFoundException", 404, Outcome.PERMANENT, False),
        ("AccessDeniedException", 403, Outcome.PERMANENT, True),
        ("UnrecognizedClientException", 403, Outcome.PERMANENT, True),
        ("SignatureDoesNotMatch", 403, Outcome.PERMANENT, True),
        ("TooManyRequestsException", 429, Outcome.RETRYABLE, False),
        ("LimitExceededException", 400, Outcome.RETRYABLE, False),
        # SES v1 reports throttling and daily-quota exhaustion with a 400 and this code.
        ("Throttling", 400, Outcome.RETRYABLE, False),
        ("ThrottlingException", 400, Outcome.RETRYABLE, False),
        ("InternalFailure", 500, Outcome.RETRYABLE, False),
        ("ServiceUnavailable", 503, Outcome.RETRYABLE, False),
        # Codes the table does not know are judged by status: server faults pass, client faults stay.
        ("SomeNewServerFault", 502, Outcome.RETRYABLE, False),
        ("SomeNewClientFault", 400, Outcome.PERMANENT, False),
    ],
)
def test_translate_client_error_classifies_ses_codes(code, status, outcome, provider_fault):
    result = translate_client_error(_client_error(code, status, message="why it failed"))

    assert (result.outcome, result.error_code, result.provider_fault) == (outcome, code, provider_fault)
    assert result.error_message.endswith("why it failed")


def test_translate_client_error_without_a_code_reports_unknown_and_judges_by_status():
    assert translate_client_error(_client_error(None, 500)).outcome == Outcome.RETRYABLE
    rejected = translate_client_error(_client_error(None, 400))
    assert (rejected.outcome, rejected.error_code) == (Outcome.PERMANENT, "Unknown")
