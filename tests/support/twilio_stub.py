"""A local Twilio Messages API: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`.

It speaks Twilio's wire format (form-encoded To/From/Body, HTTP Basic auth with the account
SID and auth token, 201 with a JSON message resource; errors as JSON with Twilio's `code`,
`message`, `more_info` and `status`), records what it accepts, and can be told to fail:
`fail_next` answers the next requests with a given status and code (and Retry-After),
`unsubscribed` numbers get 21610, malformed numbers 21211, wrong credentials 20003;
`fail_randomly` answers a share of requests with an error (a storm or an outage). It notes
each request's arrival time (`arrivals`), so a test can count requests per second.
"""

from __future__ import annotations

import base64
import random
import re
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from tests.support.http_stub import HttpStub, StubHandler

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "stub-auth-token"
FROM_NUMBER = "+15005550006"

MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC\w+)/Messages\.json$")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
DATE = "Mon, 01 Jun 2026 12:00:00 +0000"


@dataclass(frozen=True)
class SentSms:
    sid: str
    account_sid: str
    to: str
    from_: str
    body: str


@dataclass(frozen=True)
class Failure:
    status: int
    code: int | None
    message: str
    retry_after: str | None = None
    json_body: bool = True  # False: an HTML page, as a load balancer in front of the API sends


@dataclass
class TwilioBehaviour:
    unsubscribed: set[str] = field(default_factory=set)
    hold_seconds: float = 0.0  # response latency: every request waits this long (long enough, clients time out)
    failures: deque[Failure] = field(default_factory=deque)
    random_failure: Failure | None = None  # answered to a `random_failure_rate` share of requests
    random_failure_rate: float = 0.0
    rng: random.Random = field(default_factory=lambda: random.Random(3))


class TwilioHandler(StubHandler):
    def do_POST(self) -> None:
        stub: TwilioStub = self.server.stub  # type: ignore[attr-defined]
        body = self.read_body()
        with stub.lock:
            stub.request_count += 1
            stub.arrivals.append(time.time())
            behaviour = stub.behaviour
            failure = behaviour.failures.popleft() if behaviour.failures else None
            if failure is None and behaviour.random_failure_rate > behaviour.rng.random():
                failure = behaviour.random_failure
        if behaviour.hold_seconds and not self.hold(behaviour.hold_seconds):
            return
        # A request through a proxy names the whole URL; the stub answers for any host.
        match = MESSAGES_PATH.match(urlsplit(self.path).path)
        if match is None:
            self.error(404, 20404, f"The requested resource {self.path} was not found")
            return
        if not self._authorised(match["sid"], stub):
            self.error(401, 20003, "Authenticate")
            return
        if failure is not None:
            self.fail(failure)
            return
        form = {key: values[0] for key, values in parse_qs(body.decode()).items()}
        to, from_, text = form.get("To", ""), form.get("From", ""), form.get("Body", "")
        if not E164.match(to):
            self.error(400, 21211, f"Invalid 'To' Phone Number: {to}")
            return
        if to in behaviour.unsubscribed:
            self.error(400, 21610, "Attempt to send to unsubscribed recipient")
            return
        if not text:
            self.error(400, 21602, "Message body is required.")
            return
        sid = "SM" + uuid.uuid4().hex
        with stub.lock:
            stub.sent.append(SentSms(sid=sid, account_sid=match["sid"], to=to, from_=from_, body=text))
        uri = f"/2010-04-01/Accounts/{match['sid']}/Messages/{sid}.json"
        self.send_json(
            201,
            {
                "account_sid": match["sid"],
                "api_version": "2010-04-01",
                "body": text,
                "date_created": DATE,
                "date_sent": None,
                "date_updated": DATE,
                "direction": "outbound-api",
                "error_code": None,
                "error_message": None,
                "from": from_,
                "messaging_service_sid": None,
                "num_media": "0",
                "num_segments": "1",
                "price": None,
                "price_unit": "USD",
                "sid": sid,
                "status": "queued",
                "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
                "to": to,
                "uri": uri,
            },
        )

    def _authorised(self, path_sid: str, stub: TwilioStub) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == stub.account_sid == path_sid and password == stub.auth_token

    def error(self, status: int, code: int, message: str, headers: dict[str, str] | None = None) -> None:
        payload = {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
        self.send_json(status, payload, headers)

    def fail(self, failure: Failure) -> None:
        headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
        if failure.json_body and failure.code is not None:
            self.error(failure.status, failure.code, failure.message, headers)
        else:
            page = f"<html><body><h1>{failure.status}</h1>{failure.message}</body></html>".encode()
            self.send_bytes(failure.status, page, "text/html", headers)


class TwilioStub(HttpStub):
    handler_class = TwilioHandler

    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.behaviour = TwilioBehaviour()
        self.sent: list[SentSms] = []
        self.request_count = 0
        self.arrivals: list[float] = []  # epoch seconds, one per request

    def fail_next(
        self,
        status: int,
        code: int | None,
        message: str = "",
        *,
        times: int = 1,
        retry_after: str | None = None,
        json_body: bool = True,
    ) -> None:
        with self.lock:
            for _ in range(times):
                self.behaviour.failures.append(Failure(status, code, message, retry_after, json_body))

    def fail_randomly(self, rate: float, status: int = 503, code: int | None = 20503, message: str = "") -> None:
        """Answer a `rate` share of requests (0 to 1) with this error; 0 ends it."""
        with self.lock:
            self.behaviour.random_failure = Failure(status, code, message or "Service Unavailable")
            self.behaviour.random_failure_rate = rate

    def messages(self) -> list[SentSms]:
        with self.lock:
            return list(self.sent)

    def env(self) -> dict[str, str]:
        """Settings that make a Clarion process send its SMS here."""
        return {
            "CLARION_SMS_PROVIDERS": "twilio",
            "TWILIO_ACCOUNT_SID": self.account_sid,
            "TWILIO_AUTH_TOKEN": self.auth_token,
            "TWILIO_FROM_NUMBER": FROM_NUMBER,
            "TWILIO_API_BASE_URL": self.url,
        }
