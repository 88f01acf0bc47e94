"""Plan and route in one pass (delivery/pipeline.py): each delivery is written once,
already rendered, and the same routes come out as from the two steps in a row."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from delivery.models import Delivery
from delivery.pipeline import notifications_plan_and_route
from notifications.models import Notification
from tests import factories

# Every send in this module goes to the dev outbox.
pytestmark = pytest.mark.usefixtures("outbox_chains")


@pytest.fixture
def category(db):
    return factories.category_with_templates(slug="comment_reply", channels=("email", "sms", "push", "in_app"))


def _user(name: str, **settings_fields):
    user = factories.UserFactory(username=name, email=f"{name}@example.com", first_name=name.title())
    factories.NotificationSettingsFactory(user=user, phone_number="+15555550100", **settings_fields)
    factories.DeviceFactory(user=user, token=f"{name}-phone")
    return user


def test_one_pass_writes_rendered_queued_deliveries_and_returns_their_sends(category):
    ada = _user("ada")
    notification = factories.NotificationFactory(category=category, recipient=ada, data={"name": "Ada"})

    routes = notifications_plan_and_route([notification.pk])

    deliveries = {d.channel: d for d in Delivery.objects.filter(notification=notification)}
    assert routes.to_send == {channel: [deliveries[channel].pk] for channel in ("email", "sms", "push", "in_app")}
    assert all(d.status == Delivery.Status.QUEUED for d in deliveries.values())
    assert deliveries["email"].content["subject"] == "Hello Ada"
    assert deliveries["email"].content["to"] == "ada@example.com"
    assert deliveries["email"].content["unsubscribe_url"]
    assert deliveries["push"].content["tokens"] == ["ada-phone"]
    assert deliveries["sms"].content["to"] == "+15555550100"
    notification.refresh_from_db()
    assert notification.status == Notification.Status.PLANNED


def test_a_deferred_delivery_is_written_scheduled_and_returned_for_release(category):
    now = timezone.now()
    ada = _user(
        "ada", quiet_hours_start=(now - timedelta(hours=1)).time(), quiet_hours_end=(now + timedelta(hours=1)).time()
    )
    notification = factories.NotificationFactory(category=category, recipient=ada, channels=["email", "in_app"])

    routes = notifications_plan_and_route([notification.pk])

    email = Delivery.objects.get(notification=notification, channel="email")
    in_app = Delivery.objects.get(notification=notification, channel="in_app")
    assert email.status == Delivery.Status.SCHEDULED and email.content["subject"] == "Hello Ada"
    assert routes.to_schedule == [(email.pk, email.scheduled_for)]
    assert routes.to_send == {"in_app": [in_app.pk]}
    assert in_app.content["silent"] is True


def test_skipped_and_failed_renders_are_written_with_reasons_and_not_sent(db):
    user = _user("ada")
    category = factories.CategoryFactory(slug="maths", default_channels=["sms", "email"], sample_data={"n": 2})
    factories.TemplateFactory(category=category, channel="sms", body="{{ n|divisibleby:d }}")
    notification = factories.NotificationFactory(category=category, recipient=user, data={"n": 4, "d": 0})

    routes = notifications_plan_and_route([notification.pk])

    deliveries = {d.channel: d for d in Delivery.objects.filter(notification=notification)}
    assert routes.to_send == {} and routes.to_schedule == []
    assert deliveries["sms"].status == Delivery.Status.FAILED
    assert deliveries["sms"].reason.startswith("template error in body")
    assert deliveries["email"].status == Delivery.Status.SKIPPED
    assert deliveries["email"].reason == "no email template for maths"


def test_a_second_pass_over_the_same_notifications_does_nothing(category):
    ada = _user("ada")
    notification = factories.NotificationFactory(category=category, recipient=ada)

    first = notifications_plan_and_route([notification.pk])
    second = notifications_plan_and_route([notification.pk])

    assert sum(len(ids) for ids in first.to_send.values()) == 4
    assert second.to_send == {} and second.to_schedule == []
    assert Delivery.objects.filter(notification=notification).count() == 4


def test_a_chunk_costs_the_same_statements_whatever_its_size(category):
    """No statement per recipient: planning and rendering a chunk reads and writes in bulk."""

    def statements(count: int, offset: int) -> int:
        users = [_user(f"user{offset + i}") for i in range(count)]
        ids = [factories.NotificationFactory(category=category, recipient=user).pk for user in users]
        with CaptureQueriesContext(connection) as queries:
            routes = notifications_plan_and_route(ids)
        assert sum(len(sent) for sent in routes.to_send.values()) == 4 * count
        return len(queries.captured_queries)

    # Ten times the recipients: the same statements, but for a bulk insert SQLite splits in two.
    assert statements(20, 100) <= statements(2, 0) + 1
