"""scripts/embedded_redis.py: the Redis `make run`, `make test` and the bench start when
REDIS_URL is unset leaves nothing behind when it stops, and can be started again."""

from __future__ import annotations

import tempfile
from pathlib import Path

import redis

from scripts.embedded_redis import EmbeddedRedis


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
