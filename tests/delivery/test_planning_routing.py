"""Plan and route at the database level: the service functions called directly, no Celery."""

from __future__ import annotations

import math

import pytest
from django.db import connection

from config.celery import CRITICAL_QUEUE
from delivery.models import Delivery, OutboxMessage
from delivery.planning import notifications_plan
from delivery.routing import deliveries_route
from delivery.sending import delivery_send
from notifications.models import Notification
from tests import factories

# Every send in this module goes to the dev outbox.
pytestmark = pytest.mark.usefixtures("outbox_chains")


@pytest.fixture
def category(db):
    return factories.category_with_templates(slug="comment_reply", channels=("email", "sms", "push", "in_app"))


@pytest.fixture
def ada(db):
    user = factories.UserFactory(username="ada", email="ada@example.com", first_name="Ada")
    factories.NotificationSettingsFactory(user=user, phone_number="+15555550100")
    factories.DeviceFactory(user=user, token="ada-phone")
    return user


def notify(category, user, **fields) -> Notification:
    return factories.NotificationFactory(category=category, recipient=user, **fields)


def deliveries_of(notification: Notification) -> dict[str, Delivery]:
    return {d.channel: d for d in Delivery.objects.filter(notification=notification)}


# --- plan ----------------------------------------------------------------------------------


def test_plan_makes_one_pending_delivery_per_default_channel(category, ada):
    category.default_channels = ["email", "in_app"]
    category.save()
    notification = notify(category, ada)

    planned = notifications_plan([notification.pk])

    assert planned == [notification.pk]
    deliveries = deliveries_of(notification)
    assert set(deliveries) == {"email", "in_app"}
    assert all(d.status == Delivery.Status.PENDING and d.reason == "enabled" for d in deliveries.values())
    assert {d.channel: d.queue for d in deliveries.values()} == {"email": "email", "in_app": "in_app"}
    notification.refresh_from_db()
    assert notification.status == Notification.Status.PLANNED


def test_requested_channels_replace_the_category_defaults(category, ada):
    notification = notify(category, ada, channels=["sms"])

    notifications_plan([notification.pk])

    assert set(deliveries_of(notification)) == {"sms"}


def test_opt_out_skips_the_channel_with_a_reason_and_nothing_is_sent(category, ada):
    factories.PreferenceFactory(user=ada, category=category, channel="email", enabled=False)
    notification = notify(category, ada, channels=["email", "in_app"])

    notifications_plan([notification.pk])
    routes = deliveries_route([notification.pk]).to_send

    email = deliveries_of(notification)["email"]
    assert email.status == Delivery.Status.SKIPPED
    assert email.reason == "recipient opted out of comment_reply by email"
    assert email.pk not in [pk for ids in routes.values() for pk in ids]
    assert delivery_send(email.pk).next_step.value == "none"
    email.refresh_from_db()
    assert email.status == Delivery.Status.SKIPPED
    assert not email.attempts.exists()
    assert not OutboxMessage.objects.filter(channel="email").exists()


def test_unreachable_channels_are_skipped_with_reasons(category):
    bare = factories.UserFactory(username="bare", email="")
    notification = notify(category, bare)

    notifications_plan([notification.pk])

    deliveries = deliveries_of(notification)
    assert {c: (d.status, d.reason) for c, d in deliveries.items()} == {
        "email": (Delivery.Status.SKIPPED, "recipient has no email address"),
        "sms": (Delivery.Status.SKIPPED, "recipient has no phone number"),
        "push": (Delivery.Status.SKIPPED, "recipient has no active device"),
        "in_app": (Delivery.Status.PENDING, "enabled"),
    }


def test_inactive_device_does_not_make_push_reachable(category):
    user = factories.UserFactory(username="old-phone")
    factories.DeviceFactory(user=user, active=False)
    notification = notify(category, user, channels=["push"])

    notifications_plan([notification.pk])

    assert deliveries_of(notification)["push"].status == Delivery.Status.SKIPPED


def test_security_category_ignores_opt_out_and_uses_the_critical_queue(ada):
    security = factories.category_with_templates(slug="password_reset", channels=("email", "sms"), kind="security")
    factories.PreferenceFactory(user=ada, category=security, channel="email", enabled=False)
    notification = notify(security, ada)

    notifications_plan([notification.pk])

    deliveries = deliveries_of(notification)
    assert {d.status for d in deliveries.values()} == {Delivery.Status.PENDING}
    assert {d.queue for d in deliveries.values()} == {CRITICAL_QUEUE}


def test_high_priority_uses_the_critical_queue(category, ada):
    notification = notify(category, ada, channels=["email"], priority="high")

    notifications_plan([notification.pk])

    assert deliveries_of(notification)["email"].queue == CRITICAL_QUEUE


def test_plan_is_idempotent(category, ada):
    notification = notify(category, ada)

    first = notifications_plan([notification.pk])
    second = notifications_plan([notification.pk])

    assert first == [notification.pk]
    assert second == []
    assert Delivery.objects.filter(notification=notification).count() == 4


def test_replanning_a_notification_left_accepted_keeps_one_delivery_per_channel(category, ada):
    # As if the sweeper re-enqueued it: the unique constraint absorbs the repeat.
    notification = notify(category, ada)
    notifications_plan([notification.pk])
    Notification.objects.filter(pk=notification.pk).update(status=Notification.Status.ACCEPTED)

    assert notifications_plan([notification.pk]) == [notification.pk]

    assert Delivery.objects.filter(notification=notification).count() == 4


def test_plan_ignores_unknown_ids(db):
    assert notifications_plan(["00000000-0000-0000-0000-000000000000"]) == []


# --- route ---------------------------------------------------------------------------------


def test_route_renders_addresses_and_queues_each_pending_delivery(category, ada):
    notification = notify(category, ada, data={"name": "Ada"})
    notifications_plan([notification.pk])

    routes = deliveries_route([notification.pk]).to_send

    deliveries = deliveries_of(notification)
    assert routes == {channel: [deliveries[channel].pk] for channel in ("email", "sms", "push", "in_app")}
    assert all(d.status == Delivery.Status.QUEUED for d in deliveries.values())
    email = deliveries["email"].content
    assert (email["subject"], email["to"]) == ("Hello Ada", "ada@example.com")
    assert email["body"] == (
        f"Hi Ada, this is ada's message.\n\nUnsubscribe from Comment Reply emails: {email['unsubscribe_url']}"
    )
    assert deliveries["sms"].content["to"] == "+15555550100"
    assert deliveries["push"].content["to"] == "ada-phone"
    assert deliveries["in_app"].content["to"] == str(ada.pk)
    assert deliveries["in_app"].content["title"] == "Hello Ada"


def test_route_twice_enqueues_once(category, ada):
    notification = notify(category, ada)
    notifications_plan([notification.pk])

    first = deliveries_route([notification.pk]).to_send
    second = deliveries_route([notification.pk]).to_send

    assert sum(len(ids) for ids in first.values()) == 4
    assert second == {}


def test_route_before_plan_does_nothing(category, ada):
    notification = notify(category, ada)

    assert deliveries_route([notification.pk]).to_send == {}


def test_channel_without_a_template_is_skipped(ada):
    category = factories.category_with_templates(slug="email_only", channels=("email",))
    notification = notify(category, ada, channels=["email", "sms"])
    notifications_plan([notification.pk])

    routes = deliveries_route([notification.pk]).to_send

    sms = deliveries_of(notification)["sms"]
    assert sms.status == Delivery.Status.SKIPPED
    assert sms.reason == "no sms template for email_only"
    assert list(routes) == ["email"]


def test_template_that_fails_on_this_data_fails_the_delivery_with_the_field(ada):
    category = factories.CategoryFactory(slug="maths", default_channels=["sms"], sample_data={"n": 2})
    factories.TemplateFactory(category=category, channel="sms", body="{{ n|divisibleby:d }}")
    notification = notify(category, ada, data={"n": 4, "d": 0})
    notifications_plan([notification.pk])

    routes = deliveries_route([notification.pk]).to_send

    sms = deliveries_of(notification)["sms"]
    assert routes == {}
    assert sms.status == Delivery.Status.FAILED
    assert sms.reason.startswith("template error in body")


def test_route_picks_the_users_locale_then_its_language_then_english(category):
    user = factories.UserFactory(username="marie")
    factories.NotificationSettingsFactory(user=user, locale="fr-CA")
    factories.TemplateFactory(category=category, channel="in_app", locale="fr", title="Bonjour {{ name }}")
    german = factories.UserFactory(username="hans")
    factories.NotificationSettingsFactory(user=german, locale="de")
    french, other = notify(category, user, channels=["in_app"]), notify(category, german, channels=["in_app"])
    notifications_plan([french.pk, other.pk])

    deliveries_route([french.pk, other.pk])

    assert deliveries_of(french)["in_app"].content["title"] == "Bonjour Ada"
    assert deliveries_of(other)["in_app"].content["title"] == "Hello Ada"


def test_plan_route_send_reaches_the_outbox(category, ada):
    notification = notify(category, ada, channels=["email"], data={"name": "Ada"})
    notifications_plan([notification.pk])
    (delivery_id,) = deliveries_route([notification.pk]).to_send["email"]

    delivery_send(delivery_id)

    assert Delivery.objects.get(pk=delivery_id).status == Delivery.Status.SENT
    message = OutboxMessage.objects.get()
    assert (message.to, message.subject, message.reference) == ("ada@example.com", "Hello Ada", str(delivery_id))


# --- query counts --------------------------------------------------------------------------


def batches(model, count: int, fields: list | None = None) -> int:
    """Statements a bulk write of `count` rows takes here: one on PostgreSQL; SQLite's bound
    on query parameters splits big batches, the only growth the bounds below allow."""
    size = connection.ops.bulk_batch_size(fields or list(model._meta.concrete_fields), [None] * count)
    return math.ceil(count / size)


def notifications_for(category, count: int) -> list[Notification]:
    notifications = []
    for index in range(count):
        user = factories.UserFactory(username=f"reader{index}")
        factories.NotificationSettingsFactory(user=user)
        factories.DeviceFactory(user=user)
        factories.PreferenceFactory(user=user, category=category, channel="sms", enabled=index % 2 == 0)
        notifications.append(notify(category, user))
    return notifications


# Notifications with users and settings, preferences, devices, then the insert and the
# status update between a savepoint and its release.
PLAN_MAX_QUERIES = 7


@pytest.mark.parametrize("count", [1, 60])
def test_plan_query_count_does_not_grow_with_notifications(category, count, django_assert_max_num_queries):
    ids = [n.pk for n in notifications_for(category, count)]

    with django_assert_max_num_queries(PLAN_MAX_QUERIES + batches(Delivery, 4 * count) - 1):
        notifications_plan(ids)

    assert Delivery.objects.count() == 4 * count


# Deliveries with notification, user and settings; templates; devices; one bulk update;
# the savepoint and its release.
ROUTE_MAX_QUERIES = 6


@pytest.mark.parametrize("count", [1, 60])
def test_route_query_count_does_not_grow_with_notifications(category, count, django_assert_max_num_queries):
    ids = [n.pk for n in notifications_for(category, count)]
    notifications_plan(ids)
    pending = Delivery.objects.filter(status=Delivery.Status.PENDING).count()
    update_fields = [Delivery._meta.pk, Delivery._meta.pk] + [
        Delivery._meta.get_field(name) for name in ("status", "reason", "content", "updated_at")
    ]

    with django_assert_max_num_queries(ROUTE_MAX_QUERIES + batches(Delivery, pending, update_fields) - 1):
        routes = deliveries_route(ids).to_send

    assert sum(len(ids) for ids in routes.values()) == pending
