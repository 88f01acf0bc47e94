"""Rows held by another transaction, as a concurrent worker would hold them (PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import connection, transaction


@contextmanager
def held_elsewhere(take_locks: Callable[[], None]) -> Iterator[None]:
    """Run `take_locks` in a transaction on a thread (and connection) of its own and keep that
    transaction open until the block ends."""
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                take_locks()
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(timeout=30), "the other transaction never took its locks"
        yield
    finally:
        release.set()
        holder.join(timeout=30)
