"""SQL statements counted per process, for the cost scenario.

Each process that runs with `bench.settings` counts every statement its database connections
execute in an 8-byte counter of its own, a memory-mapped file `<pid>.count` in the folder
named by BENCH_QUERY_COUNT_DIR. The bench sums the files before and after a run: no query,
Redis command or message is added to the system being measured, and a process that forks
(Celery's prefork pool) starts a file of its own at its first statement.
"""

from __future__ import annotations

import mmap
import os
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

COUNT_DIR_ENV = "BENCH_QUERY_COUNT_DIR"
_COUNTER = struct.Struct("<Q")


class _ProcessCounter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._map: mmap.mmap | None = None

    def _mapped(self, directory: str) -> mmap.mmap:
        pid = os.getpid()
        if self._pid != pid:  # first statement of this process, or of a forked child
            path = Path(directory) / f"{pid}.count"
            with path.open("wb") as new_file:
                new_file.write(bytes(_COUNTER.size))
            with path.open("r+b") as mapped_file:
                self._map = mmap.mmap(mapped_file.fileno(), _COUNTER.size)
            self._pid = pid
        return self._map

    def add(self, directory: str, count: int) -> None:
        with self._lock:
            counter = self._mapped(directory)
            _COUNTER.pack_into(counter, 0, _COUNTER.unpack_from(counter, 0)[0] + count)


_counter = _ProcessCounter()


def _count_statement(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict) -> Any:
    directory = os.environ.get(COUNT_DIR_ENV)
    if directory:
        # An executemany is a statement per row, though psycopg sends them in one round trip.
        _counter.add(directory, len(params) if many and hasattr(params, "__len__") else 1)
    return execute(sql, params, many, context)


def query_counting_install(sender: object, connection: Any, **kwargs: object) -> None:
    """A `connection_created` receiver: wrap the new connection's statements once."""
    if _count_statement not in connection.execute_wrappers:
        connection.execute_wrappers.append(_count_statement)


def queries_total(directory: Path) -> int:
    """Statements counted so far by every process that counts into `directory`."""
    total = 0
    for path in directory.glob("*.count"):
        data = path.read_bytes()
        if len(data) >= _COUNTER.size:
            total += _COUNTER.unpack_from(data, 0)[0]
    return total
