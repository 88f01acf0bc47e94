"""The SMTP adapter against a real SMTP server (aiosmtpd on 127.0.0.1), and its error table."""

from __future__ import annotations

import smtplib
import socket
import threading
from dataclasses import replace

import pytest

from delivery.providers.base import Outcome, OutgoingMessage
from delivery.providers.smtp import SmtpEmailProvider, SmtpSettings, translate_smtp_error
from scripts.embedded_redis import free_port

SENDER = "Clarion <notifications@clarion.test>"
MESSAGE = OutgoingMessage(
    channel="email", reference="42", to="ada@example.com", subject="Hello Ada", body="Hi Ada, this is your message."
)


def smtp_provider(port: int) -> SmtpEmailProvider:
    return SmtpEmailProvider(
        SmtpSettings(
            host="127.0.0.1", port=port, username="", password="", use_tls=False, sender=SENDER, timeout_seconds=5
        )
    )


def test_smtp_delivers_with_the_delivery_id_in_message_id_and_header(smtp_server):
    result = smtp_provider(smtp_server.port).send(MESSAGE)

    assert result.outcome == Outcome.DELIVERED
    assert result.provider_message_id == "<42@clarion>"
    [received] = smtp_server.messages
    assert received["Subject"] == "Hello Ada"
    assert received["To"] == "ada@example.com"
    assert received["From"] == SENDER
    assert received["Message-ID"] == "<42@clarion>"
    assert received["X-Clarion-Delivery"] == "42"
    assert received.get_payload(decode=True).decode().rstrip("\r\n") == "Hi Ada, this is your message."


def test_smtp_sends_text_and_html_as_alternatives(smtp_server):
    message = OutgoingMessage(
        channel="email", reference="43", to="ada@example.com", subject="Hi", body="text", html_body="<p>html</p>"
    )

    result = smtp_provider(smtp_server.port).send(message)

    assert result.outcome == Outcome.DELIVERED
    [received] = smtp_server.messages
    assert received.get_content_type() == "multipart/alternative"
    parts = {part.get_content_type(): part.get_payload(decode=True).decode() for part in received.get_payload()}
    assert parts == {"text/plain": "text", "text/html": "<p>html</p>"}


def test_smtp_message_with_an_unsubscribe_url_carries_the_one_click_headers(smtp_server):
    url = "https://notify.example.com/unsubscribe/" + "t" * 100
    message = OutgoingMessage(channel="email", reference="44", to="ada@example.com", body="text", unsubscribe_url=url)

    smtp_provider(smtp_server.port).send(message)
    smtp_provider(smtp_server.port).send(MESSAGE)

    with_link, without_link = smtp_server.messages
    # A long header is folded onto a continuation line; readers unfold it.
    assert " ".join(with_link["List-Unsubscribe"].split()) == f"<{url}>"
    assert with_link["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert (without_link["List-Unsubscribe"], without_link["List-Unsubscribe-Post"]) == (None, None)


def test_smtp_rejected_recipient_is_permanent_smtp_550(smtp_server):
    smtp_server.handler.behaviour.reject_recipients.add("ada@example.com")

    result = smtp_provider(smtp_server.port).send(MESSAGE)

    assert result.outcome == Outcome.PERMANENT
    assert result.error_code == "smtp_550"
    assert "No such user" in result.error_message
    assert smtp_server.messages == []


def test_smtp_deferred_data_is_retryable_smtp_451_and_the_retry_is_accepted(smtp_server):
    smtp_server.handler.behaviour.defer_data_times = 1
    provider = smtp_provider(smtp_server.port)

    deferred = provider.send(MESSAGE)
    accepted = provider.send(MESSAGE)

    assert (deferred.outcome, deferred.error_code) == (Outcome.RETRYABLE, "smtp_451")
    assert "Try again later" in deferred.error_message
    assert accepted.outcome == Outcome.DELIVERED
    assert smtp_server.delivery_counts() == {"42": 1}


def test_one_thread_sends_many_messages_over_one_session(smtp_server):
    provider = smtp_provider(smtp_server.port)

    results = [provider.send(replace(MESSAGE, reference=str(n))) for n in range(5)]

    assert {result.outcome for result in results} == {Outcome.DELIVERED}
    assert smtp_server.delivery_counts() == {str(n): 1 for n in range(5)}
    assert smtp_server.handler.sessions == 1


def test_each_thread_has_a_session_of_its_own(smtp_server):
    provider = smtp_provider(smtp_server.port)

    def send_two(n: int) -> None:
        provider.send(replace(MESSAGE, reference=f"{n}-a"))
        provider.send(replace(MESSAGE, reference=f"{n}-b"))

    threads = [threading.Thread(target=send_two, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(smtp_server.messages) == 6
    assert smtp_server.handler.sessions == 3


def test_an_idle_session_that_went_away_is_replaced_before_a_message_rides_on_it(smtp_server):
    provider = smtp_provider(smtp_server.port)
    provider.send(replace(MESSAGE, reference="first"))
    provider._local.backend.connection.sock.shutdown(socket.SHUT_RDWR)  # the server hung up while it sat idle
    provider._local.used_at -= 60

    result = provider.send(replace(MESSAGE, reference="second"))

    assert result.outcome == Outcome.DELIVERED
    assert smtp_server.delivery_counts() == {"first": 1, "second": 1}
    assert smtp_server.handler.sessions == 2


def test_a_session_that_breaks_mid_use_fails_that_send_as_retryable_and_the_next_opens_a_new_one(smtp_server):
    provider = smtp_provider(smtp_server.port)
    provider.send(replace(MESSAGE, reference="first"))
    provider._local.backend.connection.sock.shutdown(socket.SHUT_RDWR)

    broken = provider.send(replace(MESSAGE, reference="second"))
    retried = provider.send(replace(MESSAGE, reference="second"))

    assert broken.outcome == Outcome.RETRYABLE
    assert retried.outcome == Outcome.DELIVERED
    assert smtp_server.delivery_counts() == {"first": 1, "second": 1}


def test_smtp_connection_refused_is_retryable():
    result = smtp_provider(free_port()).send(MESSAGE)

    assert (result.outcome, result.error_code) == (Outcome.RETRYABLE, "connection_error")


@pytest.mark.parametrize(
    ("error", "outcome", "code"),
    [
        (
            smtplib.SMTPRecipientsRefused({"ada@example.com": (550, b"5.1.1 No such user")}),
            Outcome.PERMANENT,
            "smtp_550",
        ),
        (
            smtplib.SMTPRecipientsRefused({"ada@example.com": (452, b"4.2.2 Mailbox full")}),
            Outcome.RETRYABLE,
            "smtp_452",
        ),
        (smtplib.SMTPDataError(451, b"4.3.0 Try again later"), Outcome.RETRYABLE, "smtp_451"),
        (smtplib.SMTPDataError(554, b"5.7.1 Message rejected as spam"), Outcome.PERMANENT, "smtp_554"),
        (smtplib.SMTPSenderRefused(553, b"5.7.1 Sender not allowed", SENDER), Outcome.PERMANENT, "smtp_553"),
        (smtplib.SMTPSenderRefused(421, b"4.7.0 Too many connections", SENDER), Outcome.RETRYABLE, "smtp_421"),
        (smtplib.SMTPConnectError(421, b"4.3.2 Service not available"), Outcome.RETRYABLE, "smtp_421"),
        (smtplib.SMTPAuthenticationError(535, b"5.7.8 Bad credentials"), Outcome.PERMANENT, "smtp_535"),
        # Even a 4xx authentication failure: retrying with the same credentials cannot help.
        (smtplib.SMTPAuthenticationError(454, b"4.7.0 Temporary auth failure"), Outcome.PERMANENT, "smtp_454"),
        (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), Outcome.RETRYABLE, "connection_error"),
        (ConnectionRefusedError(111, "Connection refused"), Outcome.RETRYABLE, "connection_error"),
        (TimeoutError("timed out"), Outcome.RETRYABLE, "connection_error"),
        # Configuration the server will never accept (here: TLS it does not offer) is not transient.
        (
            smtplib.SMTPNotSupportedError("STARTTLS extension not supported by server."),
            Outcome.PERMANENT,
            "SMTPNotSupportedError",
        ),
    ],
)
def test_translate_smtp_error_classifies_by_reply_code_and_error_type(error, outcome, code):
    result = translate_smtp_error(error)

    assert (result.outcome, result.error_code) == (outcome, code)
