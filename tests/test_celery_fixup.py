"""A prefork worker process keeps its database pool between tasks (config/celery_fixup.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from celery.fixups.django import DjangoWorkerFixup
from django.db import connection
from psycopg_pool import ConnectionPool

from config.celery import app
from config.celery_fixup import PoolKeepingWorkerFixup

ON_POSTGRESQL = connection.vendor == "postgresql"
PREFORK_WORKER = SimpleNamespace(pool_cls="celery.concurrency.prefork:TaskPool")
A_TASK = SimpleNamespace(request=SimpleNamespace(is_eager=False))


def pool_across_a_task_boundary(fixup: DjangoWorkerFixup) -> tuple[ConnectionPool, ConnectionPool, int]:
    """The process's pool before and after a task ends and the next one starts (each using the
    database), as a prefork child's fix-up sees them, and how many connections the pool
    before had opened by the end."""
    fixup.worker = PREFORK_WORKER
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    pool_before = connection.pool
    opened_before = pool_before.get_stats()["connections_num"]
    fixup.on_task_postrun(sender=A_TASK)
    assert connection.connection is None  # given back (or closed) between tasks
    fixup.on_task_prerun(sender=A_TASK)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return pool_before, connection.pool, pool_before.get_stats()["connections_num"] - opened_before


def test_the_app_installs_the_pool_keeping_fixup():
    assert app.fixups == ["config.celery_fixup:fixup"]
    assert type(app._fixups[0].worker_fixup) is PoolKeepingWorkerFixup


@pytest.mark.skipif(not ON_POSTGRESQL, reason="Django pools connections on PostgreSQL only")
@pytest.mark.django_db(transaction=True)
def test_a_prefork_process_reuses_its_pooled_connection_for_the_next_task():
    pool_before, pool_after, opened = pool_across_a_task_boundary(PoolKeepingWorkerFixup(app))
    assert pool_after is pool_before
    assert opened == 0


@pytest.mark.skipif(not ON_POSTGRESQL, reason="Django pools connections on PostgreSQL only")
@pytest.mark.django_db(transaction=True)
def test_celerys_own_fixup_would_connect_anew_for_every_task():
    """What config/celery_fixup.py works around (celery/celery#10554): when this fails,
    Celery keeps the pool itself and the module can go."""
    pool_before, pool_after, _ = pool_across_a_task_boundary(DjangoWorkerFixup(app))
    assert pool_after is not pool_before


def test_installed_in_a_worker_it_has_the_pools_check_their_connections(monkeypatch):
    calls = []
    monkeypatch.setattr("config.celery_fixup.pooled_connections_checked", lambda: calls.append("checked"))
    monkeypatch.setattr(DjangoWorkerFixup, "install", lambda fixup: calls.append("installed") or fixup)
    PoolKeepingWorkerFixup(app).install()
    assert calls == ["checked", "installed"]  # before any pool is made
