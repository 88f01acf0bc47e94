"""Email over SMTP through Django's backend. 4xx replies are transient, 5xx are not."""

from __future__ import annotations

import smtplib
import socket
from dataclasses import dataclass

from django.core.mail import EmailMultiAlternatives, get_connection

from delivery.providers.base import OutgoingMessage, SendResult


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str
    password: str
    use_tls: bool
    sender: str
    timeout_seconds: float


def translate_smtp_error(error: Exception) -> SendResult:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(error.recipients.values()), (550, b"recipient refused"))
        return _by_reply_code(int(code), reply)
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return SendResult.misconfigured(f"smtp_{error.smtp_code}", "authentication failed")
    if isinstance(error, smtplib.SMTPResponseException):
        return _by_reply_code(error.smtp_code, error.smtp_error)
    # SMTPException is itself an OSError: only a lost connection, not every SMTP error, is transient.
    if isinstance(error, smtplib.SMTPServerDisconnected) or (
        isinstance(error, OSError | socket.timeout) and not isinstance(error, smtplib.SMTPException)
    ):
        return SendResult.retryable("connection_error", str(error) or type(error).__name__)
    return SendResult.permanent(type(error).__name__, str(error))


def _by_reply_code(code: int, reply: bytes | str) -> SendResult:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    if 400 <= code < 500:
        return SendResult.retryable(f"smtp_{code}", text)
    return SendResult.permanent(f"smtp_{code}", text)


class SmtpEmailProvider:
    name = "smtp"

    def __init__(self, config: SmtpSettings) -> None:
        self._config = config

    def send(self, message: OutgoingMessage) -> SendResult:
        config = self._config
        connection = get_connection(
            "django.core.mail.backends.smtp.EmailBackend",
            host=config.host,
            port=config.port,
            username=config.username,
            password=config.password,
            use_tls=config.use_tls,
            timeout=config.timeout_seconds,
            fail_silently=False,
        )
        message_id = f"<{message.reference}@clarion>"
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=message.body,
            from_email=config.sender,
            to=[message.to],
            headers={"Message-ID": message_id, "X-Clarion-Delivery": message.reference, **message.email_headers},
            connection=connection,
        )
        if message.html_body:
            email.attach_alternative(message.html_body, "text/html")
        try:
            email.send()
        except (smtplib.SMTPException, OSError) as error:
            return translate_smtp_error(error)
        return SendResult.delivered(provider_message_id=message_id)
