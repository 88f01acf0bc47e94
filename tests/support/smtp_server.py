"""A real SMTP server (aiosmtpd) on 127.0.0.1 that records what it receives.

It can be told to reject recipients (550, permanent), defer data (451, retryable) or take
its time per message (`delay_seconds`, the response latency a benchmark sets), so tests can
count what arrived and how often.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message

from aiosmtpd.controller import Controller

from scripts.embedded_redis import free_port


@dataclass
class SmtpBehaviour:
    reject_recipients: set[str] = field(default_factory=set)
    defer_data_times: int = 0  # answer 451 to this many DATA commands first
    delay_seconds: float = 0.0


class RecordingHandler:
    def __init__(self, behaviour: SmtpBehaviour) -> None:
        self.behaviour = behaviour
        self.messages: list[Message] = []
        self.sessions = 0  # SMTP sessions opened (counted at EHLO)
        self._lock = threading.Lock()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        with self._lock:
            self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.behaviour.reject_recipients:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            if self.behaviour.defer_data_times > 0:
                self.behaviour.defer_data_times -= 1
                return "451 4.3.0 Try again later"
        if self.behaviour.delay_seconds:
            # Awaited, not slept: one slow answer must not hold up every other session, just
            # as a real server's doesn't.
            await asyncio.sleep(self.behaviour.delay_seconds)
        with self._lock:
            self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted"


class SmtpServer:
    def __init__(self, behaviour: SmtpBehaviour | None = None) -> None:
        self.port = free_port()
        self.handler = RecordingHandler(behaviour or SmtpBehaviour())
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    @property
    def messages(self) -> list[Message]:
        with self.handler._lock:
            return list(self.handler.messages)

    def delivery_counts(self) -> Counter[str]:
        """How many times each delivery arrived (by Clarion's X-Clarion-Delivery header)."""
        return Counter(message["X-Clarion-Delivery"] for message in self.messages)

    def env(self) -> dict[str, str]:
        """Settings that make a Clarion process send its email here."""
        return {"CLARION_EMAIL_PROVIDERS": "smtp", "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(self.port)}
