"""A real SNS endpoint for tests (moto's server on 127.0.0.1, in a thread of the test
process), and a stand-in that answers SNS requests with a chosen error, since moto cannot
throttle or fail.

moto keeps its state per process, not per server, so `start()` resets it. What was
published is read back from moto's inspection endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

import requests

from tests.support.http_stub import HttpStub, StubHandler
from tests.support.moto_server import MotoServer

REGION = "us-east-1"
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def sns_env(endpoint_url: str) -> dict[str, str]:
    """The environment that makes boto3 (and a Clarion process) publish SMS to `endpoint_url`."""
    return {
        "AWS_ENDPOINT_URL_SNS": endpoint_url,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        # A developer's own ~/.aws profile must not leak into the test.
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        **DUMMY_CREDENTIALS,
    }


@dataclass(frozen=True)
class PublishedSms:
    message_id: str
    phone_number: str
    message: str


class MotoSnsServer(MotoServer):
    """The same moto server as for SES, read back for what SNS published."""

    def published_sms(self) -> list[PublishedSms]:
        state = requests.get(f"{self.url}/moto-api/data.json", timeout=10).json()["sns"]
        return [PublishedSms(sms["message_id"], sms["phone_number"], sms["message"]) for sms in state["SMS"]]


class SnsErrorHandler(StubHandler):
    def do_POST(self) -> None:
        stub: SnsErrorServer = self.server.stub  # type: ignore[attr-defined]
        self.read_body()
        with stub.lock:
            stub.request_count += 1
        if stub.hold_seconds and not self.hold(stub.hold_seconds):
            return
        fault = "Sender" if stub.status < 500 else "Receiver"
        body = (
            '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">'
            f"<Error><Type>{fault}</Type><Code>{stub.code}</Code><Message>{stub.message}</Message></Error>"
            "<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
        ).encode()
        self.send_bytes(stub.status, body, "text/xml")


class SnsErrorServer(HttpStub):
    """Answers every SNS request with one AWS query-protocol error (or holds it)."""

    handler_class = SnsErrorHandler

    def __init__(self, status: int = 500, code: str = "InternalError", message: str = "", hold_seconds: float = 0):
        super().__init__()
        self.status = status
        self.code = code
        self.message = message or code
        self.hold_seconds = hold_seconds
        self.request_count = 0
