"""HTTP through Django's WSGI handler on pool threads (config/wsgi_threads.py), in process:
requests run at once, not one after another on a shared thread, and the real application
answers API and page requests as Django's own handlers would."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from asgiref.testing import ApplicationCommunicator

from config.wsgi_threads import ThreadedWsgiToAsgi

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


async def _request(app, scope: dict, body: bytes = b"") -> tuple[int, dict[bytes, bytes], bytes]:
    communicator = ApplicationCommunicator(app, scope)
    await communicator.send_input({"type": "http.request", "body": body, "more_body": False})
    start = await communicator.receive_output(WAIT)
    content = b""
    while True:
        message = await communicator.receive_output(WAIT)
        content += message.get("body", b"")
        if not message.get("more_body"):
            break
    return start["status"], {name.lower(): value for name, value in start["headers"]}, content


def test_requests_run_at_once_on_pool_threads():
    """Two requests meet at a barrier inside the app: on one shared thread the first would
    wait there for a second that could never start."""
    barrier = threading.Barrier(2, timeout=WAIT)
    threads: set[str] = set()

    def app(environ, start_response):
        threads.add(threading.current_thread().name)
        barrier.wait()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["PATH_INFO"].encode()]

    asgi = ThreadedWsgiToAsgi(app)

    async def both():
        return await asyncio.gather(_request(asgi, _scope("/a")), _request(asgi, _scope("/b")))

    answers = asyncio.run(both())

    assert [(status, body) for status, _, body in answers] == [(200, b"/a"), (200, b"/b")]
    assert len(threads) == 2 and threading.current_thread().name not in threads


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
