"""The provider servers every system under test sends to: SMTP (email), Twilio (SMS) and FCM
(push), each a process of its own (bench/providers.py). In-app has no provider server:
Clarion itself stores the item and pushes it to the websocket."""

from __future__ import annotations

import sys
from pathlib import Path

from bench.children import Child

KINDS = ("smtp", "twilio", "fcm")


class ProviderServers:
    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.children = [
            Child(
                f"provider-{kind}",
                [sys.executable, "-m", "bench.providers", kind, str(workdir)],
                env,
                workdir,
                talks=True,
            )
            for kind in KINDS
        ]
        self.env: dict[str, str] = {}

    def start(self) -> ProviderServers:
        for child in self.children:
            child.start()
        for child in self.children:
            self.env.update(child.receive(timeout=30))
        return self

    def _ask(self, command: str) -> list[dict]:
        for child in self.children:
            child.send(command)
        return [child.receive(timeout=30) for child in self.children]

    def latency(self, seconds: float) -> None:
        """Every provider answers each message `seconds` after it arrived."""
        self._ask(f"latency {seconds}")

    def reset(self) -> None:
        self._ask("reset")

    def received(self) -> int:
        return sum(answer["received"] for answer in self._ask("count"))

    def stop(self) -> None:
        for child in self.children:
            child.stop()
