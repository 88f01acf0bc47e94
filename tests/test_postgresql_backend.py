"""A pooled connection PostgreSQL has dropped is not handed out (config/postgresql): the next
request or task gets a working one instead of an error."""

from __future__ import annotations

import copy
import socket
import time
from collections.abc import Callable, Iterator

import pytest
from django.db import OperationalError, connection
from django.db.backends.postgresql import base as django_postgresql

from config.postgresql.base import DatabaseWrapper, connection_dropped_by_server
from tests.support.pooling import only_pooled


def test_a_quiet_connection_is_not_taken_for_dropped():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        assert not connection_dropped_by_server(ours)


def test_a_parting_message_or_a_closed_end_shows_it_dropped():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(b"E")
        assert connection_dropped_by_server(ours)
    ours, theirs = socket.socketpair()
    with ours:
        theirs.close()
        assert connection_dropped_by_server(ours)


def _backend_pid(wrapper: django_postgresql.DatabaseWrapper) -> int:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


@pytest.fixture
def pool_of_one() -> Iterator[Callable[[type], django_postgresql.DatabaseWrapper]]:
    """Makes wrappers of the test database whose pool holds a single connection, so the one
    handed out next is the one that was dropped; closes their pools afterwards."""
    made = []

    def make(wrapper_class: type[django_postgresql.DatabaseWrapper]) -> django_postgresql.DatabaseWrapper:
        settings_dict = copy.deepcopy(connection.settings_dict)
        settings_dict["OPTIONS"]["pool"] = {"min_size": 1, "max_size": 1, "timeout": 10}
        wrapper = wrapper_class(settings_dict, alias=f"pool_of_one_{len(made)}")
        made.append(wrapper)
        return wrapper

    yield make
    for wrapper in made:
        wrapper.close()
        wrapper.close_pool()


def _drop_pooled_backend(wrapper: django_postgresql.DatabaseWrapper) -> None:
    """Give the wrapper's connection back to its pool and have PostgreSQL terminate its
    backend, as a restart would; returns once the parting message has reached its socket."""
    pid = _backend_pid(wrapper)
    pooled = wrapper.connection
    wrapper.close()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    for _ in range(1000):
        if connection_dropped_by_server(pooled):
            return
        time.sleep(0.01)
    raise AssertionError("PostgreSQL's parting message never reached the pooled connection")


@only_pooled
@pytest.mark.django_db(transaction=True)
def test_the_next_use_after_postgresql_dropped_the_pooled_connection_works(pool_of_one):
    wrapper = pool_of_one(DatabaseWrapper)
    before = _backend_pid(wrapper)
    _drop_pooled_backend(wrapper)
    assert _backend_pid(wrapper) != before


@only_pooled
@pytest.mark.django_db(transaction=True)
def test_djangos_own_backend_would_hand_out_the_dropped_connection(pool_of_one):
    """What the check is for: the same sequence fails on Django's backend."""
    wrapper = pool_of_one(django_postgresql.DatabaseWrapper)
    _backend_pid(wrapper)
    _drop_pooled_backend(wrapper)
    with pytest.raises(OperationalError):
        _backend_pid(wrapper)
