"""A threaded HTTP server on 127.0.0.1 for provider stubs, and the bits every stub needs.

Handlers can be told to hold a request (to make a client time out); `stop()` releases held
requests first, so a test never waits on a stub that is shutting down.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from scripts.embedded_redis import free_port


class StubHandler(BaseHTTPRequestHandler):
    server: StubServer

    def log_message(self, format: str, *args: Any) -> None:  # the test output stays quiet
        pass

    def read_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def send_json(self, status: int, payload: object, headers: dict[str, str] | None = None) -> None:
        self.send_bytes(status, json.dumps(payload).encode(), "application/json", headers)

    def send_bytes(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def hold(self, seconds: float) -> bool:
        """Keep the client waiting; False when the stub stopped meanwhile (answer nothing)."""
        return not self.server.released.wait(seconds)


class StubServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's listen backlog is 5: a worker's concurrent sends (each on a connection of
    # its own) would find connections reset, as no real provider's endpoint does.
    request_queue_size = 128
    released: threading.Event

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up is what some tests are about, not a stub failure.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class HttpStub:
    handler_class: type[StubHandler]

    def __init__(self) -> None:
        self.port = free_port()
        self.lock = threading.Lock()
        self._server = StubServer(("127.0.0.1", self.port), self.handler_class)
        self._server.released = threading.Event()
        self._server.stub = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=type(self).__name__, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HttpStub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
