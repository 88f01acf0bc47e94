"""A fault-injecting HTTP proxy on 127.0.0.1, for provider errors a local server cannot make.

moto never throttles, so this sits between Clarion and moto: it answers the first N
requests itself with an error in the provider's wire format, and forwards the rest
untouched (body and headers, Host included, so a SigV4 signature still matches).
"""

from __future__ import annotations

import http.client
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade"})


@dataclass(frozen=True)
class Fault:
    """An error answer. The default is SESv2's throttling error (a rest-json API: the error
    type travels in a header, the message in the JSON body)."""

    status: int = 429
    error_type: str = "TooManyRequestsException"
    message: str = "Maximum sending rate exceeded."

    def body(self) -> bytes:
        return json.dumps({"message": self.message}).encode()


class _Handler(BaseHTTPRequestHandler):
    server: _ProxyServer

    def _handle(self) -> None:
        proxy = self.server.proxy
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fault = proxy.next_fault()
        if fault is not None:
            payload = fault.body()
            self.send_response(fault.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("x-amzn-ErrorType", fault.error_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        upstream = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=30)
        try:
            upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    upstream.putheader(name, value)
            upstream.endheaders(body or None)
            response = upstream.getresponse()
            payload = response.read()
            self.send_response(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        finally:
            upstream.close()

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

    def send_response(self, code: int, message: str | None = None) -> None:
        # Skip the proxy's own Server and Date headers; the upstream sends its own.
        self.log_request(code)
        self.send_response_only(code, message)

    def log_message(self, *args: object) -> None:
        pass


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    proxy: FaultProxy


class FaultProxy:
    """Forwards to `upstream_url`, answering the next `failures` requests with `fault` first."""

    def __init__(self, upstream_url: str, failures: int = 0, fault: Fault | None = None) -> None:
        upstream = urlsplit(upstream_url)
        self.upstream_host = upstream.hostname or "127.0.0.1"
        self.upstream_port = upstream.port or 80
        self.fault = fault or Fault()
        self._failures_left = failures
        self._requests = 0
        self._faults_sent = 0
        self._lock = threading.Lock()
        self._server = _ProxyServer(("127.0.0.1", 0), _Handler)
        self.port = self._server.server_address[1]
        self._server.proxy = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fault-proxy", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def fail_next(self, failures: int, fault: Fault | None = None) -> None:
        with self._lock:
            self._failures_left = failures
            self.fault = fault or self.fault

    def next_fault(self) -> Fault | None:
        """Count a request and say whether to answer it with the fault."""
        with self._lock:
            self._requests += 1
            if self._failures_left <= 0:
                return None
            self._failures_left -= 1
            self._faults_sent += 1
            return self.fault

    @property
    def requests_seen(self) -> int:
        with self._lock:
            return self._requests

    @property
    def faults_sent(self) -> int:
        with self._lock:
            return self._faults_sent
