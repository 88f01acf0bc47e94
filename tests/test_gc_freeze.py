"""Long-lived processes freeze what they loaded at start, so that the garbage collector's full
passes skip it (config/asgi.py, config/celery.py)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys

from celery.signals import worker_process_init, worker_ready

from config.celery import loaded_objects_freeze


def test_the_web_application_freezes_what_it_loaded():
    frozen = subprocess.run(
        [sys.executable, "-c", "import gc, config.asgi; print(gc.get_freeze_count())"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"},
    )
    assert int(frozen.stdout) > 10_000


def test_a_worker_process_freezes_at_start_and_when_ready():
    assert loaded_objects_freeze in [receiver() for _, receiver in worker_process_init.receivers]
    assert loaded_objects_freeze in [receiver() for _, receiver in worker_ready.receivers]
    try:
        worker_process_init.send(sender=None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
