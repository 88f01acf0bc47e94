"""Celery's Django fix-up, with each worker process's database pool kept between tasks.

Celery 5.7's fix-up closes the database connections before and after every task and, in a
prefork child with Django's PostgreSQL pool, closes the pool as well (celery/celery#10554,
open), so every task opened a new PostgreSQL connection: about 40 a second in `make bench`'s
accept scenario, each a backend forked and its catalog caches loaded at the web server's CPU
priority, which stalled the API's requests beside it. Here a task boundary does what a
request boundary does in Django (`close_old_connections`: a pooled connection goes back to
its pool, a broken or mid-transaction one is closed) and the pool stays; a connection
PostgreSQL dropped meanwhile is not handed to the next task (config/postgresql). A child
still drops the pool it inherited from its parent when it starts: the fix-up's
`worker_process_init` handler is Celery's own.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.fixups.django import DjangoFixup, DjangoWorkerFixup
from django.db import close_old_connections


class PoolKeepingWorkerFixup(DjangoWorkerFixup):
    def close_database(self, **kwargs: Any) -> None:
        close_old_connections()


class PoolKeepingFixup(DjangoFixup):
    @property
    def worker_fixup(self) -> DjangoWorkerFixup:
        if self._worker_fixup is None:
            self._worker_fixup = PoolKeepingWorkerFixup(self.app)
        return self._worker_fixup


def fixup(app: Celery, env: str = "DJANGO_SETTINGS_MODULE") -> PoolKeepingFixup | None:
    """Installed in place of Celery's built-in Django fix-up (config/celery.py), when Django
    settings are configured, as that one is."""
    return PoolKeepingFixup(app).install() if os.environ.get(env) else None
