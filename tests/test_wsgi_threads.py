"""HTTP through Django's WSGI handler on pool threads (config/wsgi_threads.py), in process:
requests run at once, not one after another on a shared thread; bodies and answers of any
size arrive whole; and the real application answers API and page requests as Django's own
handlers would."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading

import pytest
from asgiref.testing import ApplicationCommunicator

from config.wsgi_threads import BUFFERED_BYTES, SPOOLED_BYTES, ThreadedWsgiToAsgi

WAIT = 10  # seconds; a bound on waiting, never an expectation of speed


def _scope(path: str, method: str = "GET", headers: list[tuple[bytes, bytes]] | None = None) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), *(headers or [])],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def _exchange(app, scope: dict, body_parts: list[bytes]) -> tuple[dict, list[dict]]:
    """Send the body in parts; return the start message and the body messages."""
    communicator = ApplicationCommunicator(app, scope)
    for index, part in enumerate(body_parts):
        await communicator.send_input({"type": "http.request", "body": part, "more_body": index < len(body_parts) - 1})
    start = await communicator.receive_output(WAIT)
    messages = []
    while True:
        message = await communicator.receive_output(WAIT)
        messages.append(message)
        if not message.get("more_body"):
            break
    return start, messages


async def _request(app, scope: dict, body: bytes = b"") -> tuple[int, dict[bytes, bytes], bytes]:
    start, messages = await _exchange(app, scope, [body])
    content = b"".join(m.get("body", b"") for m in messages)
    return start["status"], {name.lower(): value for name, value in start["headers"]}, content


def test_requests_run_at_once_on_pool_threads():
    """As many requests as the pool has threads meet at a barrier inside the app: with fewer
    threads (one shared thread, or asyncio's default pool of a few more than the cores) the
    first would wait there for requests that could never start."""
    size = 12
    barrier = threading.Barrier(size, timeout=WAIT)
    threads: set[str] = set()

    def app(environ, start_response):
        threads.add(threading.current_thread().name)
        barrier.wait()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["PATH_INFO"].encode()]

    asgi = ThreadedWsgiToAsgi(app, threads=size)

    async def all_at_once():
        return await asyncio.gather(*(_request(asgi, _scope(f"/{n}")) for n in range(size)))

    answers = asyncio.run(all_at_once())

    assert [(status, body) for status, _, body in answers] == [(200, f"/{n}".encode()) for n in range(size)]
    assert len(threads) == size and threading.current_thread().name not in threads


def test_a_body_in_parts_past_the_spool_size_reaches_the_app_whole_and_headers_are_joined():
    seen = {}

    def app(environ, start_response):
        seen["body"] = environ["wsgi.input"].read()
        seen["accept"] = environ["HTTP_ACCEPT"]
        seen["length"] = environ["CONTENT_LENGTH"]
        start_response("201 Created", [("Content-Type", "text/plain"), ("X-Twice", "a"), ("X-Twice", "b")])
        return [hashlib.sha256(seen["body"]).hexdigest().encode()]

    parts = [bytes([i]) * (SPOOLED_BYTES // 2) for i in range(5)]
    body = b"".join(parts)
    headers = [(b"accept", b"text/plain"), (b"accept", b"application/json"), (b"content-length", b"%d" % len(body))]
    start, messages = asyncio.run(_exchange(ThreadedWsgiToAsgi(app, threads=2), _scope("/up", "POST", headers), parts))

    assert seen == {"body": body, "accept": "text/plain,application/json", "length": str(len(body))}
    assert start["status"] == 201
    assert [h for h in start["headers"] if h[0] == b"x-twice"] == [(b"x-twice", b"a"), (b"x-twice", b"b")]
    assert b"".join(m["body"] for m in messages) == hashlib.sha256(body).hexdigest().encode()


def test_a_small_answer_is_sent_whole_and_a_large_one_streamed_and_closed_on_its_thread():
    threads = {}
    chunk = b"x" * (BUFFERED_BYTES // 4)

    class Answer:
        def __init__(self, count):
            self.count = count

        def __iter__(self):
            threads["ran"] = threading.current_thread().name
            return iter([chunk] * self.count)

        def close(self):
            threads["closed"] = threading.current_thread().name

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return Answer(int(environ["PATH_INFO"].strip("/")))

    asgi = ThreadedWsgiToAsgi(app, threads=2)
    _, small = asyncio.run(_exchange(asgi, _scope("/2"), [b""]))
    assert [m["body"] for m in small] == [chunk * 2]
    assert threads["closed"] == threads["ran"]

    threads.clear()
    _, large = asyncio.run(_exchange(asgi, _scope("/12"), [b""]))
    assert len(large) > 2, "a large answer is sent as it is produced"
    assert b"".join(m["body"] for m in large) == chunk * 12
    assert threads["closed"] == threads["ran"] and threads["ran"] != threading.current_thread().name


def test_a_client_gone_before_its_body_ends_never_reaches_the_app():
    called = []

    def app(environ, start_response):
        called.append(environ)
        start_response("200 OK", [])
        return [b""]

    async def leave():
        communicator = ApplicationCommunicator(ThreadedWsgiToAsgi(app, threads=2), _scope("/", "POST"))
        await communicator.send_input({"type": "http.request", "body": b"half", "more_body": True})
        await communicator.send_input({"type": "http.disconnect"})
        await communicator.wait(WAIT)
        return await communicator.receive_nothing()

    assert asyncio.run(leave()) is True
    assert called == []


@pytest.mark.django_db(transaction=True)
def test_the_application_answers_the_api_with_its_json_errors_and_pages():
    from config.asgi import application

    status, headers, body = asyncio.run(
        _request(
            application,
            _scope("/api/v1/notifications", "POST", [(b"content-type", b"application/json")]),
            b'{"category": "x", "recipients": ["1"]}',
        )
    )
    assert status == 401
    assert headers[b"content-type"] == b"application/json"
    assert json.loads(body)["error"]["code"] == "missing_api_key"

    status, _, body = asyncio.run(_request(application, _scope("/accounts/login/")))
    assert status == 200 and b"<form" in body
