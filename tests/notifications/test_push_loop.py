"""The process' push loop (notifications/push_loop.py): one loop, reused, renewed after a fork."""

from __future__ import annotations

import asyncio

import pytest

from notifications import push_loop
from notifications.push_loop import push_loop_run


async def _running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def test_coroutines_run_on_one_loop_that_stays():
    first = push_loop_run(_running_loop())
    second = push_loop_run(_running_loop())
    assert first is second
    assert first.is_running()


def test_a_forked_child_starts_a_loop_of_its_own(monkeypatch):
    parents = push_loop_run(_running_loop())
    monkeypatch.setattr(push_loop.os, "getpid", lambda: -1)
    childs = push_loop_run(_running_loop())
    assert childs is not parents
    assert childs.is_running()


def test_an_error_reaches_the_caller():
    async def fails() -> None:
        raise ConnectionError("redis is down")

    with pytest.raises(ConnectionError, match="redis is down"):
        push_loop_run(fails())


def test_a_push_that_hangs_is_cancelled_after_the_timeout(monkeypatch):
    monkeypatch.setattr(push_loop, "PUSH_TIMEOUT_SECONDS", 0.05)
    cancelled = asyncio.Event()

    async def hangs() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(TimeoutError):
        push_loop_run(hangs())

    async def wait_cancelled() -> bool:
        await cancelled.wait()
        return True

    assert push_loop_run(wait_cancelled())
