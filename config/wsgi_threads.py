"""Django's HTTP side served to the ASGI server as a WSGI app on a few threads.

Every Clarion HTTP view is synchronous (DRF, the admin, the pages), and WhiteNoise is
sync-only: under Django's ASGI handler each request crossed between the event loop and a
thread four times (into the sync middleware, back out for the async-capable middleware, in
again for the view) on a thread made for that request alone. Measured with `bench.load`
against one uvicorn process, that doubled the CPU of a POST (≈ 10 ms against ≈ 5 ms in
process) and collapsed under load. Here a request goes to a thread once and runs Django's
WSGI handler there, as under a threaded WSGI server; websockets stay on Channels (asgi.py).
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from asgiref.wsgi import WsgiToAsgi, WsgiToAsgiInstance


class _ThreadedInstance(WsgiToAsgiInstance):
    # asgiref runs every WSGI request on one shared thread (thread_sensitive); Django's WSGI
    # handler is thread-safe, so they go to the event loop's thread pool instead.
    run_wsgi_app = sync_to_async(WsgiToAsgiInstance.__dict__["run_wsgi_app"].func, thread_sensitive=False)


class ThreadedWsgiToAsgi(WsgiToAsgi):
    """A WSGI application as an ASGI one, each request on a pool thread."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await _ThreadedInstance(self.wsgi_application, self.duplicate_header_limit)(scope, receive, send)
