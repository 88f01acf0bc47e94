"""Django's HTTP side served to the ASGI server as a WSGI app on a few threads.

Every Clarion HTTP view is synchronous (DRF, the admin, the pages), and WhiteNoise is
sync-only: under Django's ASGI handler each request crossed between the event loop and a
thread four times (into the sync middleware, back out for the async-capable middleware, in
again for the view) on a thread made for that request alone, which doubled the CPU of a POST
and collapsed under load. asgiref's WsgiToAsgi, the next step, still crossed back to the loop
for every message it sent (AsyncToSync, three per request): about 1.5 ms of a single-recipient
POST's 10 ms, measured with `bench.load` against one uvicorn process.

Here the body is read on the loop, the request goes to a pool thread once and runs Django's
WSGI handler there, as under a threaded WSGI server, and the answer comes back whole. Only an
answer longer than BUFFERED_BYTES is streamed from the thread as it is produced, so a large
file never sits in memory at once. Websockets stay on Channels (asgi.py). The pool has
CLARION_WEB_THREADS threads, not asyncio's default of a few more than the cores: its
requests mostly wait on PostgreSQL and Redis.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from tempfile import SpooledTemporaryFile
from typing import IO, Any

Message = dict[str, Any]
Send = Callable[[Message], Awaitable[None]]
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# A request body past this goes to a temporary file rather than memory (as asgiref does).
SPOOLED_BYTES = 64 * 1024
# An answer up to this is collected on the thread and sent whole; past it, it is streamed.
BUFFERED_BYTES = 256 * 1024


def wsgi_environ(scope: dict[str, Any], body: IO[bytes]) -> dict[str, Any]:
    """The WSGI environ of an ASGI HTTP scope (PEP 3333; paths and headers as latin-1 str)."""
    script_name = scope.get("root_path", "").encode().decode("latin1")
    path_info = scope["path"].encode().decode("latin1")
    if script_name and path_info.startswith(script_name):
        path_info = path_info[len(script_name) :]
    server = scope.get("server") or ("localhost", 80)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path_info,
        "QUERY_STRING": scope.get("query_string", b"").decode("latin1"),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1] if server[1] is not None else 0),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": body,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if scope.get("client"):
        environ["REMOTE_ADDR"] = scope["client"][0]
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin1").upper().replace("-", "_")
        key = name if name in ("CONTENT_LENGTH", "CONTENT_TYPE") else f"HTTP_{name}"
        value = raw_value.decode("latin1")
        # Repeated headers join with a comma (RFC 9110 §5.3), as WSGI servers do.
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


def _body(content: bytes, more: bool = False) -> Message:
    return {"type": "http.response.body", "body": content, "more_body": more}


@dataclass
class _Answer:
    """What the WSGI app answered, as far as it has been collected on the thread."""

    status: int = 500
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    streamed: bool = False

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        if exc_info is not None and self.streamed:
            raise exc_info[1].with_traceback(exc_info[2])
        self.status = int(status.split(" ", 1)[0])
        self.headers = [(name.lower().encode("latin1"), value.encode("latin1")) for name, value in headers]

    def start_message(self) -> Message:
        return {"type": "http.response.start", "status": self.status, "headers": self.headers}


class ThreadedWsgiToAsgi:
    """A WSGI application as an ASGI one, each request on a thread of a pool of `threads`."""

    def __init__(self, wsgi_application: WsgiApp, threads: int) -> None:
        self.wsgi_application = wsgi_application
        self.threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="wsgi")

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[Message]], send: Send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"an HTTP application was given a {scope['type']!r} connection")
        with SpooledTemporaryFile(max_size=SPOOLED_BYTES) as body:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return  # the client left before its request was complete: nothing to answer
                body.write(message.get("body", b""))
                if not message.get("more_body"):
                    break
            body.seek(0)
            loop = asyncio.get_running_loop()
            answer = await loop.run_in_executor(self.threads, self._respond, wsgi_environ(scope, body), loop, send)
        if not answer.streamed:
            await send(answer.start_message())
            await send(_body(b"".join(answer.chunks)))

    def _respond(self, environ: dict[str, Any], loop: asyncio.AbstractEventLoop, send: Send) -> _Answer:
        """On the pool thread: run the app and collect its answer, or stream it once it
        passes BUFFERED_BYTES. The iterable is closed here, on the thread that ran the
        request, which is where Django returns its database connection."""
        answer = _Answer()
        iterable = self.wsgi_application(environ, answer.start_response)
        try:
            size = 0
            for chunk in iterable:
                if answer.streamed:
                    self._send_from_thread(loop, send, _body(chunk, more=True))
                    continue
                answer.chunks.append(chunk)
                size += len(chunk)
                if size > BUFFERED_BYTES:
                    answer.streamed = True
                    self._send_from_thread(loop, send, answer.start_message())
                    self._send_from_thread(loop, send, _body(b"".join(answer.chunks), more=True))
                    answer.chunks = []
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()
        if answer.streamed:
            self._send_from_thread(loop, send, _body(b""))
        return answer

    @staticmethod
    def _send_from_thread(loop: asyncio.AbstractEventLoop, send: Send, message: Message) -> None:
        asyncio.run_coroutine_threadsafe(send(message), loop).result()
