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


_loops: list[asyncio.AbstractEventLoop] = []  # this process' loop, once started
_lock = threading.Lock()


def _process_loop() -> asyncio.AbstractEventLoop:
    with _lock:
        if not _loops:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="clarion-push-loop", daemon=True).start()
            _loops.append(loop)
        return _loops[0]


# A loop's thread does not survive a fork (Celery's prefork children): a child starts its own,
# as the send pools do (delivery/send_pool.py).
os.register_at_fork(after_in_child=_loops.clear)


def push_loop_run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run `coroutine` on this process' push loop and wait for it. Raises what it raises, and
    TimeoutError (the coroutine cancelled) after PUSH_TIMEOUT_SECONDS."""
    future = asyncio.run_coroutine_threadsafe(coroutine, _process_loop())
    try:
        return future.result(timeout=PUSH_TIMEOUT_SECONDS)
    except TimeoutError:
        future.cancel()
        raise
