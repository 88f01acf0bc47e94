"""The naive reference: the design the field warns against, built with the same parts.

One Celery chain per notification (plan → render → send), every row written on its own with
`Model.objects.create`/`save()`, one provider call per send task, all on one queue. It uses
Clarion's settings (the same broker, acknowledgement and connection-reuse tuning), tables,
templates, rendering and provider adapters, so what differs is the design alone. Its worker:

    celery -A bench.naive_pipeline worker -Q naive --concurrency N

Every bench category has one channel, so each send task makes one provider call.
"""

from __future__ import annotations

import os

import django
from celery import Celery, chain
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django.setup()

from django.utils import timezone  # noqa: E402

from bench.messages import message_content  # noqa: E402
from delivery.chains import provider_chain  # noqa: E402
from delivery.models import Delivery, DeliveryAttempt, Device  # noqa: E402
from delivery.providers.base import Outcome  # noqa: E402
from delivery.sending import outgoing_message  # noqa: E402
from notifications.channels import Channel  # noqa: E402
from notifications.models import Notification, Template  # noqa: E402
from preferences.models import Preference  # noqa: E402

NAIVE_QUEUE = "naive"

app = Celery("naive")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(NAIVE_QUEUE, routing_key=NAIVE_QUEUE)]
app.conf.task_default_queue = NAIVE_QUEUE
app.conf.beat_schedule = {}


@app.task
def naive_plan(notification_id: str) -> list[int]:
    notification = Notification.objects.select_related("category").get(pk=notification_id)
    delivery_ids = []
    for channel in notification.channels or notification.category.default_channels:
        opted_out = Preference.objects.filter(
            user_id=notification.recipient_id, category_id=notification.category_id, channel=channel, enabled=False
        ).exists()
        delivery = Delivery.objects.create(
            notification=notification,
            channel=channel,
            queue=NAIVE_QUEUE,
            status=Delivery.Status.SKIPPED if opted_out else Delivery.Status.PENDING,
        )
        if not opted_out:
            delivery_ids.append(delivery.pk)
    notification.status = Notification.Status.PLANNED
    notification.save()
    return delivery_ids


@app.task
def naive_render(delivery_ids: list[int]) -> list[int]:
    for delivery_id in delivery_ids:
        delivery = Delivery.objects.select_related("notification__recipient").get(pk=delivery_id)
        notification = delivery.notification
        template = Template.objects.get(category_id=notification.category_id, channel=delivery.channel, locale="en")
        tokens = []
        if delivery.channel == Channel.PUSH:
            tokens = list(
                Device.objects.filter(user_id=notification.recipient_id, active=True).values_list("token", flat=True)
            )
        delivery.content = message_content(template, notification, notification.recipient, tokens)
        delivery.status = Delivery.Status.QUEUED
        delivery.save()
    return delivery_ids


@app.task
def naive_send(delivery_ids: list[int]) -> None:
    for delivery_id in delivery_ids:
        delivery = Delivery.objects.get(pk=delivery_id)
        provider = provider_chain(delivery.channel)[0]
        message = outgoing_message(delivery)
        started_at = timezone.now()
        result = provider.send(message)
        finished_at = timezone.now()
        DeliveryAttempt.objects.create(
            delivery=delivery,
            provider=provider.name,
            started_at=started_at,
            finished_at=finished_at,
            outcome=result.outcome,
            error_code=result.error_code,
            error_message=result.error_message,
            provider_message_id=result.provider_message_id,
        )
        if result.outcome == Outcome.DELIVERED:
            delivery.status = Delivery.Status.DELIVERED if delivery.channel == Channel.IN_APP else Delivery.Status.SENT
            delivery.sent_at = finished_at
        else:
            delivery.status = Delivery.Status.FAILED
        delivery.provider = provider.name
        delivery.provider_message_id = result.provider_message_id
        delivery.save()


def naive_pipeline_start(notification_id: str) -> None:
    chain(naive_plan.s(notification_id), naive_render.s(), naive_send.s()).delay()
