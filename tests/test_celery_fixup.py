"""A prefork worker process keeps its database pool between tasks (config/celery_fixup.py);
that a connection PostgreSQL dropped meanwhile is not handed out again is the backend's
(tests/test_postgresql_backend.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from celery.fixups.django import DjangoWorkerFixup
from django.db import connection
from psycopg_pool import ConnectionPool

from config.celery import app
from config.celery_fixup import PoolKeepingWorkerFixup
from tests.support.pooling import only_pooled

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


@only_pooled
@pytest.mark.django_db(transaction=True)
def test_a_prefork_process_reuses_its_pooled_connection_for_the_next_task():
    pool_before, pool_after, opened = pool_across_a_task_boundary(PoolKeepingWorkerFixup(app))
    assert pool_after is pool_before
    assert opened == 0


@only_pooled
@pytest.mark.django_db(transaction=True)
def test_celerys_own_fixup_would_connect_anew_for_every_task():
    """What config/celery_fixup.py works around (celery/celery#10554): when this fails,
    Celery keeps the pool itself and the module can go."""
    pool_before, pool_after, _ = pool_across_a_task_boundary(DjangoWorkerFixup(app))
    assert pool_after is not pool_before
