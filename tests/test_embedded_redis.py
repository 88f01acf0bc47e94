"""scripts/embedded_redis.py: the Redis `make run`, `make test` and the bench start when
REDIS_URL is unset leaves nothing behind when it stops, also when its wrapper is stopped from
outside, and can be started again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import redis

from scripts.embedded_redis import EmbeddedRedis
from scripts.run import REPO_ROOT


def _workdirs() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("clarion-redis-*"))


def test_stopping_removes_its_directory():
    before = _workdirs()
    with EmbeddedRedis() as server:
        assert redis.Redis.from_url(server.url).ping()
        assert len(_workdirs() - before) == 1

    assert _workdirs() - before == set()


def test_a_stopped_server_starts_again():
    server = EmbeddedRedis().start()
    try:
        server.stop()
        server.start()

        assert redis.Redis.from_url(server.url).ping()
    finally:
        server.stop()


def test_the_wrapper_stopped_with_sigterm_stops_its_command_and_its_server():
    before = _workdirs()
    waiting = "import os, time; print(os.environ['REDIS_URL'], flush=True); time.sleep(60)"
    wrapper = subprocess.Popen(
        [sys.executable, "-m", "scripts.embedded_redis", sys.executable, "-c", waiting],
        cwd=REPO_ROOT,
        env={name: value for name, value in os.environ.items() if name != "REDIS_URL"},  # else no server starts
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        url = wrapper.stdout.readline().strip()
        assert redis.Redis.from_url(url).ping()

        wrapper.send_signal(signal.SIGTERM)

        assert wrapper.wait(timeout=30) != 0
    finally:
        if wrapper.poll() is None:
            wrapper.kill()
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    assert _workdirs() - before == set()
