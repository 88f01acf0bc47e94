"""One event loop per process for the channel layer's sends from synchronous code.

`async_to_sync` from a worker or a view thread starts a fresh event loop for every call, and
channels_redis keeps its Redis connections per loop: each round of in-app pushes opened a new
connection per group it sent to, and redis-py reads its package metadata for every new
connection. A chunk of a hundred pushes cost about 140 ms of a worker's CPU that way (most of
an in-app delivery's wait in `make bench`). This loop lives on a thread of its own, started
in each process on first use (after a prefork worker's fork, never before), so its
connections stay open and are reused.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from typing import Any

# A push waits at most this long for Redis; what it carries is stored already.
PUSH_TIMEOUT_SECONDS = 10.0


class _ProcessLoop:
    """The loop of the current process, started on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def get(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                # A forked child inherits the parent's loop object but not its thread.
                self._loop = asyncio.new_event_loop()
                threading.Thread(target=self._loop.run_forever, name="clarion-push-loop", daemon=True).start()
                self._pid = os.getpid()
            return self._loop


_process_loop = _ProcessLoop()


def push_loop_run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run `coroutine` on this process' push loop and wait for it. Raises what it raises, and
    TimeoutError (the coroutine cancelled) after PUSH_TIMEOUT_SECONDS."""
    future = asyncio.run_coroutine_threadsafe(coroutine, _process_loop.get())
    try:
        return future.result(timeout=PUSH_TIMEOUT_SECONDS)
    except TimeoutError:
        future.cancel()
        raise
