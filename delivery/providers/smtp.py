"""Email over SMTP through Django's backend, a kept-open session per sending thread. 4xx
replies are transient, 5xx are not."""

from __future__ import annotations

import smtplib
import socket
import threading
import time
from dataclasses import dataclass

from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend

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


# A session idle longer than this is checked with a NOOP before it carries a message: servers
# close idle sessions, and a message must not be the thing that finds out.
IDLE_CHECK_SECONDS = 1.0


class SmtpEmailProvider:
    """One SMTP session per sending thread, kept open between messages: connecting, EHLO,
    STARTTLS and AUTH cost several round trips, once per thread instead of once per message.
    A session that failed in any way is closed, and the next message opens a new one."""

    name = "smtp"

    def __init__(self, config: SmtpSettings) -> None:
        self._config = config
        self._local = threading.local()

    def _session(self) -> EmailBackend:
        backend: EmailBackend | None = getattr(self._local, "backend", None)
        now = time.monotonic()
        if backend is not None and now - self._local.used_at > IDLE_CHECK_SECONDS and not _answers(backend):
            self._close()
            backend = None
        if backend is None:
            config = self._config
            backend = get_connection(
                "django.core.mail.backends.smtp.EmailBackend",
                host=config.host,
                port=config.port,
                username=config.username,
                password=config.password,
                use_tls=config.use_tls,
                timeout=config.timeout_seconds,
                fail_silently=False,
            )
            self._local.backend = backend
        self._local.used_at = now
        return backend

    def _close(self) -> None:
        backend = getattr(self._local, "backend", None)
        self._local.backend = None
        if backend is not None:
            try:
                backend.close()
            except (smtplib.SMTPException, OSError):
                pass  # closing a broken session: nothing left to tell it

    def send(self, message: OutgoingMessage) -> SendResult:
        backend = self._session()
        message_id = f"<{message.reference}@clarion>"
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=message.body,
            from_email=self._config.sender,
            to=[message.to],
            headers={"Message-ID": message_id, "X-Clarion-Delivery": message.reference, **message.email_headers},
            connection=backend,
        )
        if message.html_body:
            email.attach_alternative(message.html_body, "text/html")
        try:
            # Opens the session when it is not open yet; an open one stays open after the send.
            backend.open()
            email.send()
        except (smtplib.SMTPException, OSError) as error:
            self._close()
            return translate_smtp_error(error)
        return SendResult.delivered(provider_message_id=message_id)


def _answers(backend: EmailBackend) -> bool:
    """Whether an open session still answers (a NOOP); True when none is open yet."""
    if backend.connection is None:
        return True
    try:
        return backend.connection.noop()[0] == 250
    except (smtplib.SMTPException, OSError):
        return False
