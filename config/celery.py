"""The Celery app, its queues and the beat schedule.

A worker started without `-Q` consumes every queue below. Critical traffic (security
categories, high priority) has its own queue so it never waits behind bulk sends.
"""

from __future__ import annotations

import gc
import os

from celery import Celery
from celery.signals import worker_init, worker_process_init, worker_ready
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Celery's Django fix-up, keeping the database pool between tasks (config/celery_fixup.py).
app = Celery("clarion", task_cls="celery.contrib.django.task:DjangoTask", fixups=["config.celery_fixup:fixup"])
app.config_from_object("django.conf:settings", namespace="CELERY")

PIPELINE_QUEUE = "pipeline"
CRITICAL_QUEUE = "critical"
SCHEDULED_QUEUE = "scheduled"
MAINTENANCE_QUEUE = "maintenance"
CHANNEL_QUEUES = ("email", "sms", "push", "in_app")

ALL_QUEUES = (CRITICAL_QUEUE, PIPELINE_QUEUE, *CHANNEL_QUEUES, SCHEDULED_QUEUE, MAINTENANCE_QUEUE)

# Each queue is bound under its own routing key, so routing by queue name can never fan out.
app.conf.task_queues = [Queue(name, routing_key=name) for name in ALL_QUEUES]
app.conf.task_default_queue = PIPELINE_QUEUE
# Default queues per task (Celery 5.7 deprecates the `queue` task attribute). Sends name
# their queue when published: the delivery's channel queue, or `critical`.
app.conf.task_routes = {
    "delivery.tasks.notification_pipeline_task": {"queue": PIPELINE_QUEUE},
    "delivery.tasks.intake_drain_task": {"queue": PIPELINE_QUEUE},
    "delivery.tasks.delivery_route_task": {"queue": PIPELINE_QUEUE},
    "delivery.tasks.delivery_release_task": {"queue": SCHEDULED_QUEUE},
    "delivery.tasks.pipeline_sweep_task": {"queue": MAINTENANCE_QUEUE},
}
app.autodiscover_tasks()


@worker_ready.connect
@worker_process_init.connect
def loaded_objects_freeze(**kwargs: object) -> None:
    """Keep what a worker loaded at start out of the garbage collector's full passes, as the
    web server does (config/asgi.py): `worker_process_init` in each prefork child, and
    `worker_ready` in a threads or solo worker's one process."""
    gc.freeze()


@worker_init.connect
def provider_modules_preload(**kwargs: object) -> None:
    """Before a prefork worker forks its processes (delivery/chains.py says why)."""
    from delivery.chains import provider_modules_import

    provider_modules_import()
