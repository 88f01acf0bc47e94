"""SMS through Twilio's Messages API with the `twilio` library.

The library never retries (its `max_retries` only covers https connection errors and we do
not set it): Celery owns retries. Twilio errors carry an HTTP status and a Twilio error code;
`translate_twilio_error` turns them into an outcome by the table below, falling back on the
status (429 and 5xx are transient, other 4xx are not).

Each thread that sends (the send pool's, delivery/send_pool.py) has a client of its own: the
client's requests Session is not thread-safe, and it keeps its thread's connection alive
between sends. It reads the environment's proxy settings once (delivery/providers/http_session.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from delivery.providers.base import Outcome, OutgoingMessage, SendResult, parse_retry_after
from delivery.providers.http_session import session_environment_freeze

logger = logging.getLogger(__name__)

# https://www.twilio.com/docs/api/errors
TWILIO_ERROR_OUTCOMES: dict[int, Outcome] = {
    20003: Outcome.PERMANENT,  # authentication failed
    20404: Outcome.PERMANENT,  # resource not found: a wrong account SID
    20429: Outcome.RETRYABLE,  # too many requests
    20500: Outcome.RETRYABLE,  # internal server error
    20503: Outcome.RETRYABLE,  # service unavailable
    21211: Outcome.PERMANENT,  # invalid 'To' phone number
    21408: Outcome.PERMANENT,  # sending to this region is not enabled
    21602: Outcome.PERMANENT,  # message body is required
    21606: Outcome.PERMANENT,  # the 'From' number is not an SMS-capable number of this account
    21610: Outcome.PERMANENT,  # the recipient replied STOP (unsubscribed)
    21611: Outcome.RETRYABLE,  # the 'From' number's queue of unsent messages is full
    21612: Outcome.PERMANENT,  # no route to the 'To' number from the 'From' number
    21614: Outcome.PERMANENT,  # 'To' is not a mobile number
    21617: Outcome.PERMANENT,  # body longer than 1,600 characters
}
# Errors that say our account or settings are wrong, not the message: no retry fixes them,
# and an operator must hear about them.
MISCONFIGURATION_CODES = frozenset({20003, 20404, 21408, 21606})


@dataclass(frozen=True)
class TwilioSettings:
    account_sid: str
    auth_token: str
    from_number: str
    timeout_seconds: float
    api_base_url: str = ""  # a local server in development and tests; empty for Twilio itself


def translate_twilio_error(status: int, code: int | None, message: str, retry_after: str | None = None) -> SendResult:
    """Translate a Twilio error response (HTTP status, Twilio code, Retry-After header)."""
    code = code or status
    outcome = TWILIO_ERROR_OUTCOMES.get(code)
    if outcome is None:
        outcome = Outcome.RETRYABLE if status == 429 or status >= 500 else Outcome.PERMANENT
    if code in MISCONFIGURATION_CODES:
        return SendResult.misconfigured(str(code), message)
    if outcome == Outcome.RETRYABLE:
        return SendResult.retryable(str(code), message, retry_after_seconds=parse_retry_after(retry_after))
    return SendResult.permanent(str(code), message)


class _HeaderKeepingHttpClient(TwilioHttpClient):
    """Keeps the last response's headers: Twilio's exceptions drop them, and a 429's
    Retry-After is in a header. One per thread, so the last response is this thread's."""

    def __init__(self, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.last_headers: Mapping[str, str] = {}

    def request(self, *args: object, **kwargs: object) -> Response:
        self.last_headers = {}
        response = super().request(*args, **kwargs)
        self.last_headers = response.headers or {}
        return response

    def last_header(self, name: str) -> str | None:
        return next((value for key, value in self.last_headers.items() if key.lower() == name.lower()), None)


class TwilioSmsProvider:
    name = "twilio"

    def __init__(self, config: TwilioSettings) -> None:
        self._config = config
        self._local = threading.local()

    def _client(self) -> tuple[Client, _HeaderKeepingHttpClient]:
        """This thread's client, built on its first send."""
        if not hasattr(self._local, "client"):
            config = self._config
            http = _HeaderKeepingHttpClient(timeout=config.timeout_seconds)
            client = Client(config.account_sid, config.auth_token, http_client=http)
            if config.api_base_url:
                client.api.base_url = config.api_base_url.rstrip("/")
                # TWILIO_REGION / TWILIO_EDGE in the environment would rewrite the local host.
                client.region = None
                client.edge = None
            session_environment_freeze(http.session, client.api.base_url)
            self._local.client, self._local.http = client, http
        return self._local.client, self._local.http

    def send(self, message: OutgoingMessage) -> SendResult:
        client, http = self._client()
        try:
            sent = client.messages.create(to=message.to, from_=self._config.from_number, body=message.body)
        except TwilioRestException as error:
            return self._failed(error.status, error.code, error.msg, http)
        except TwilioServiceException as error:
            return self._failed(error.status, error.code, error.detail or error.title, http)
        except requests.Timeout as error:
            return SendResult.retryable("timeout", str(error))
        except requests.ConnectionError as error:
            return SendResult.retryable("connection_error", str(error))
        except TwilioException as error:
            # Raised before any request, e.g. for missing credentials.
            return SendResult.misconfigured("twilio_client", str(error))
        return SendResult.delivered(provider_message_id=sent.sid or "")

    def _failed(self, status: int, code: int | None, message: str, http: _HeaderKeepingHttpClient) -> SendResult:
        if (code or status) in MISCONFIGURATION_CODES:
            logger.error("Twilio rejects Clarion's configuration: %s %s", code or status, message)
        return translate_twilio_error(status, code, message, http.last_header("Retry-After"))
