"""A worker's database pool checks a connection when a task takes it (config/celery_fixup.py's
pooled_connections_checked): kept from task to task, a connection PostgreSQL dropped would
otherwise fail the next task. The check itself is psycopg_pool's, as Django configures it for
CONN_HEALTH_CHECKS; what is tested here is that a worker's pool is made with it, and the web
server's without (a round trip per request)."""

from __future__ import annotations

import pytest
from django.db import connection
from psycopg_pool import ConnectionPool

from config.celery_fixup import pooled_connections_checked

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="Django pools connections on PostgreSQL only"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def fresh_pool():
    """This process's pool made anew for the test, and again after it as it was."""
    before = connection.settings_dict["CONN_HEALTH_CHECKS"]
    connection.close_pool()
    yield
    connection.close()
    connection.close_pool()
    connection.settings_dict["CONN_HEALTH_CHECKS"] = before


def _pool_check() -> object:
    connection.ensure_connection()
    return connection.pool._check


def test_a_workers_pool_checks_each_connection_it_hands_out(fresh_pool):
    pooled_connections_checked()
    assert _pool_check() == ConnectionPool.check_connection


def test_the_web_servers_pool_does_not(fresh_pool):
    assert _pool_check() is None
