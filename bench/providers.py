"""One provider server as a process of its own: `python -m bench.providers smtp|twilio|fcm DIR`.

The test suite's servers (tests/support) speak each provider's protocol; here each runs alone
in a process, so that three of them answering thousands of requests a second do not share
one interpreter lock, and the HTTP ones keep connections alive as the real APIs do. The
process prints one JSON line, the settings that point Clarion at it, then obeys commands
on stdin, answering each with a JSON line:

    latency SECONDS   answer every message this much later (response latency)
    reset             forget what was received
    count             {"received": N}
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.support.fcm_stub import FcmHandler, FcmStub
from tests.support.smtp_server import SmtpServer
from tests.support.twilio_stub import TwilioHandler, TwilioStub


class KeepAliveTwilioHandler(TwilioHandler):
    protocol_version = "HTTP/1.1"


class KeepAliveFcmHandler(FcmHandler):
    protocol_version = "HTTP/1.1"


class BenchTwilioStub(TwilioStub):
    handler_class = KeepAliveTwilioHandler


class BenchFcmStub(FcmStub):
    handler_class = KeepAliveFcmHandler


@dataclass(frozen=True)
class ProviderServer:
    """What the command loop needs of a server, whichever protocol it speaks."""

    env: dict[str, str]
    set_latency: Callable[[float], None]
    count: Callable[[], int]
    reset: Callable[[], None]
    stop: Callable[[], None]


def _smtp() -> ProviderServer:
    server = SmtpServer().start()
    handler = server.handler

    def set_latency(seconds: float) -> None:
        handler.behaviour.delay_seconds = seconds

    return ProviderServer(server.env(), set_latency, lambda: len(handler.messages), handler.messages.clear, server.stop)


def _twilio() -> ProviderServer:
    stub = BenchTwilioStub().start()

    def set_latency(seconds: float) -> None:
        stub.behaviour.hold_seconds = seconds

    def reset() -> None:
        with stub.lock:
            stub.sent.clear()
            stub.arrivals.clear()

    return ProviderServer(stub.env(), set_latency, lambda: len(stub.sent), reset, stub.stop)


def _fcm(directory: Path) -> ProviderServer:
    stub = BenchFcmStub().start()

    def set_latency(seconds: float) -> None:
        stub.behaviour.hold_seconds = seconds

    def reset() -> None:
        with stub.lock:
            stub.sent.clear()
            stub.send_requests.clear()

    env = stub.env(stub.service_account_file(directory))
    return ProviderServer(env, set_latency, lambda: len(stub.sent), reset, stub.stop)


def main(argv: list[str]) -> int:
    kind, directory = argv
    factories = {"smtp": _smtp, "twilio": _twilio, "fcm": lambda: _fcm(Path(directory))}
    server = factories[kind]()
    print(json.dumps(server.env), flush=True)
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command == "latency":
            server.set_latency(float(argument))
            answer = {"latency": float(argument)}
        elif command == "reset":
            server.reset()
            answer = {"reset": True}
        elif command == "count":
            answer = {"received": server.count()}
        else:
            answer = {"error": f"unknown command {command!r}"}
        print(json.dumps(answer), flush=True)
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
