"""The process' push loop (notifications/push_loop.py): one loop, reused, renewed after a fork."""

from __future__ import annotations

import asyncio
import os

import pytest

from notifications import push_loop
from notifications.push_loop import push_loop_run
from tests.support.processes import wait_for


async def _running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def test_coroutines_run_on_one_loop_that_stays():
    first = push_loop_run(_running_loop())
    second = push_loop_run(_running_loop())
    assert first is second
    assert first.is_running()


def test_a_forked_child_starts_a_loop_of_its_own():
    parents = push_loop_run(_running_loop())
    pid = os.fork()
    if pid == 0:  # the child: report by exit code, never return into pytest
        try:
            childs = push_loop_run(_running_loop())
            os._exit(0 if childs is not parents and childs.is_running() else 1)
        finally:
            os._exit(2)
    statuses = []

    def exited() -> bool:
        done, status = os.waitpid(pid, os.WNOHANG)
        statuses.append(status)
        return done == pid

    wait_for(exited, timeout=30, message="the forked child to exit")
    assert os.waitstatus_to_exitcode(statuses[-1]) == 0, "the child ran its push on a loop of its own"
    assert parents.is_running()


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
