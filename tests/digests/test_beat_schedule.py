"""The flusher is registered in code for celery-beat, which copies it into the admin."""

from __future__ import annotations

from django.conf import settings

from config.celery import MAINTENANCE_QUEUE, app


def test_digest_flush_runs_every_minute_on_the_maintenance_queue():
    entry = settings.CELERY_BEAT_SCHEDULE["clarion-digest-flush"]

    assert entry["task"] == "digests.tasks.digest_flush_task"
    assert entry["schedule"] == 60.0
    assert entry["options"]["queue"] == MAINTENANCE_QUEUE


def test_the_scheduled_task_name_is_a_registered_task():
    app.loader.import_default_modules()

    assert settings.CELERY_BEAT_SCHEDULE["clarion-digest-flush"]["task"] in app.tasks
