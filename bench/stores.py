"""The bench's database and Redis, and what it does to them between runs.

PostgreSQL is used when it answers on 127.0.0.1:5432 (a database of the bench's own, dropped
at the end), else SQLite in the bench's folder. Redis is REDIS_URL when set (a database the
bench may empty) or an embedded one.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis

from scripts.embedded_redis import EmbeddedRedis

PG_HOST, PG_PORT = "127.0.0.1", 5432
# kombu's Redis transport keeps a queue's priorities 3, 6 and 9 in lists of their own.
KOMBU_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")
KOMBU_UNACKED_KEYS = ("unacked", "unacked_index", "unacked_mutex")


@dataclass(frozen=True)
class Stores:
    database_url: str
    database: str  # "postgresql" or "sqlite"
    redis_url: str
    redis_pid: int | None  # the embedded Redis's process; None for REDIS_URL's


def _postgres_admin(user: str) -> psycopg.Connection:
    return psycopg.connect(host=PG_HOST, port=PG_PORT, user=user, dbname="postgres", connect_timeout=2, autocommit=True)


def _postgres_database(stack: ExitStack) -> str | None:
    """A fresh PostgreSQL database for this run, dropped when `stack` closes; None when
    PostgreSQL does not answer or refuses us."""
    user = os.environ.get("PGUSER", "postgres")
    name = f"clarion_bench_{os.getpid()}"
    try:
        with _postgres_admin(user) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error:
        return None

    def drop() -> None:
        with _postgres_admin(user) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    stack.callback(drop)
    return f"postgres://{user}@{PG_HOST}:{PG_PORT}/{name}"


def stores_open(stack: ExitStack, workdir: Path, database: str, redis_choice: str) -> Stores:
    """`database` is auto, postgresql or sqlite; `redis_choice` auto (REDIS_URL if set) or embedded."""
    database_url = None
    if database in ("auto", "postgresql"):
        database_url = _postgres_database(stack)
        if database_url is None and database == "postgresql":
            raise SystemExit(f"PostgreSQL does not answer on {PG_HOST}:{PG_PORT}")
    kind = "postgresql" if database_url else "sqlite"
    database_url = database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    redis_url = os.environ.get("REDIS_URL") if redis_choice == "auto" else None
    redis_pid = None
    if not redis_url:
        embedded = stack.enter_context(EmbeddedRedis())
        redis_url, redis_pid = embedded.url, embedded.process.pid
    return Stores(database_url=database_url, database=kind, redis_url=redis_url, redis_pid=redis_pid)


def tables_reset() -> None:
    """Empty every table a scenario fills (notifications and all that hangs off them), keeping
    users, categories and keys."""
    from django.db import connection

    from delivery.models import OutboxMessage
    from notifications.models import NotificationRequest

    tables = [NotificationRequest._meta.db_table, OutboxMessage._meta.db_table]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
            return
        # SQLite has no TRUNCATE ... CASCADE: every table that hangs off a notification.
        from delivery.models import Delivery, DeliveryAttempt
        from digests.models import DigestItem
        from notifications.models import InboxItem, Notification

        # Tables other apps add that refer to notifications are left as they are.
        cursor.execute("PRAGMA foreign_keys = OFF")
        dependants = [DeliveryAttempt, Delivery, DigestItem, InboxItem, Notification]
        for table in [model._meta.db_table for model in dependants] + tables:
            cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - table names from the models
        cursor.execute("PRAGMA foreign_keys = ON")


def queues_purge(client: redis.Redis, queues: list[str]) -> None:
    client.delete(*[f"{queue}{suffix}" for queue in queues for suffix in KOMBU_PRIORITY_SUFFIXES])


def unacked_forget(client: redis.Redis) -> None:
    """Drop kombu's record of messages a worker took and never acknowledged (a process that
    was killed): they would otherwise come back hours later, into another run."""
    client.delete(*KOMBU_UNACKED_KEYS)


def tasks_pending(client: redis.Redis, queues: list[str]) -> int:
    """Messages waiting in `queues` plus those taken by a worker and not yet acknowledged."""
    with client.pipeline(transaction=False) as pipe:
        for queue in queues:
            for suffix in KOMBU_PRIORITY_SUFFIXES:
                pipe.llen(f"{queue}{suffix}")
        pipe.hlen("unacked")
        return sum(pipe.execute())


def redis_commands_total(client: redis.Redis) -> int:
    """Commands Redis has run since it started (INFO commandstats), this INFO included."""
    return sum(int(stats["calls"]) for stats in client.info("commandstats").values())
