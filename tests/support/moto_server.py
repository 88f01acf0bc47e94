"""A real SES endpoint for tests: moto's server on 127.0.0.1, in a thread of the test process.

moto keeps its state per process, not per server, so `start()` resets it: each test begins
with no verified identities and no sent messages. What was sent is read back from moto's
own inspection endpoint, the way a test would look into a provider's outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_string
from typing import Any

import boto3
import requests
from moto.server import ThreadedMotoServer

from scripts.embedded_redis import free_port

REGION = "us-east-1"
SENDER_ADDRESS = "notifications@clarion.test"
SENDER = f"Clarion <{SENDER_ADDRESS}>"
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def ses_env(endpoint_url: str, sender: str = SENDER) -> dict[str, str]:
    """The environment that makes a Clarion process send its email through SES at `endpoint_url`."""
    return {
        "CLARION_EMAIL_PROVIDERS": "ses",
        "CLARION_EMAIL_FROM": sender,
        "AWS_ENDPOINT_URL_SESV2": endpoint_url,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        # A developer's own ~/.aws profile must not leak into the test.
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        **DUMMY_CREDENTIALS,
    }


@dataclass(frozen=True)
class SentEmail:
    message_id: str
    source: str
    to: list[str]
    subject: str
    body: str


class MotoServer:
    def __init__(self) -> None:
        self.port = free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        self._server.start()
        self.reset()
        return self

    def stop(self) -> None:
        self.reset()
        self._server.stop()

    def reset(self) -> None:
        requests.post(f"{self.url}/moto-api/reset", timeout=10).raise_for_status()

    def env(self, endpoint_url: str | None = None, sender: str = SENDER) -> dict[str, str]:
        """Settings for a Clarion process; `endpoint_url` puts something (a proxy) in between."""
        return ses_env(endpoint_url or self.url, sender)

    def client(self) -> Any:
        """A sesv2 client talking to moto directly, for arranging a test."""
        return boto3.client(
            "sesv2",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def verify_sender(self, address: str = SENDER_ADDRESS) -> None:
        """Verify an email identity; without it moto answers MessageRejected, as SES does."""
        self.client().create_email_identity(EmailIdentity=address)

    def sent_emails(self) -> list[SentEmail]:
        """Every email SES accepted: simple messages in order, then raw ones.

        moto keeps one body per simple message, the HTML part when there is one.
        """
        state = requests.get(f"{self.url}/moto-api/data.json", timeout=10).json()["ses"]
        sent = [
            SentEmail(
                message_id=message["id"],
                source=message["source"],
                to=list(message["destinations"].get("ToAddresses", [])),
                subject=message["subject"],
                body=message["body"],
            )
            for message in state["Message"]
        ]
        for raw in state["RawMessage"]:
            parsed = message_from_string(raw["raw_data"])
            sent.append(
                SentEmail(
                    message_id=raw["id"],
                    source=raw["source"],
                    # moto lists a raw message's header recipients once more beside the envelope's.
                    to=list(dict.fromkeys(raw["destinations"])),
                    subject=str(parsed["Subject"] or ""),
                    body=str(parsed.get_payload()),
                )
            )
        return sent
