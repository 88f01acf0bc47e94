"""Planning with caps, bursts, digest schedules and dedup keys: the service called directly
against the database and the real Redis, no Celery."""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone

from delivery.counters import Counter, counter_client, counts_read
from delivery.models import Delivery
from delivery.planning import notifications_plan
from digests.models import DigestItem
from notifications.models import Notification, OverCapAction
from preferences.caps import DAY, HOUR, Window, window_end
from tests import factories
from tests.support.counters import counters_clear


@pytest.fixture(autouse=True)
def clean_counters(redis_client):
    counters_clear(redis_client)
    yield
    counters_clear(redis_client)


@pytest.fixture
def comments(db):
    return factories.category_with_templates(slug="comment_reply", channels=("email",), max_per_hour=2)


@pytest.fixture
def ada(db):
    return factories.UserFactory(username="ada", email="ada@example.com")


def notify(category, user, **fields) -> Notification:
    return factories.NotificationFactory(category=category, recipient=user, **fields)


def plan_one(category, user, **fields) -> Delivery:
    notification = notify(category, user, **fields)
    notifications_plan([notification.pk])
    return Delivery.objects.get(notification=notification)


def statuses(notifications: list[Notification]) -> list[str]:
    by_notification = dict(Delivery.objects.values_list("notification_id", "status"))
    return [by_notification[n.pk] for n in notifications]


def test_over_the_hourly_cap_deliveries_are_digested_with_a_digest_item(comments, ada):
    before = timezone.now()
    notifications = [notify(comments, ada) for _ in range(5)]

    notifications_plan([n.pk for n in notifications])

    assert statuses(notifications) == ["pending", "pending", "digested", "digested", "digested"]
    digested = Delivery.objects.filter(status=Delivery.Status.DIGESTED)
    assert all(d.reason.startswith("over the cap of 2 per hour for comment_reply by email") for d in digested)
    items = DigestItem.objects.order_by("created_at")
    assert [item.notification_id for item in items] == [n.pk for n in notifications[2:]]
    hour_end = window_end(timezone.now(), HOUR)
    assert {(i.user_id, i.category_id, i.channel, i.due_at) for i in items} == {
        (ada.pk, comments.pk, "email", hour_end)
    }
    assert {d.scheduled_for for d in digested} == {hour_end}
    assert before < hour_end


def test_the_cap_holds_across_separate_planning_runs_and_counts_only_sends(comments, ada):
    deliveries = [plan_one(comments, ada) for _ in range(4)]

    assert [d.status for d in deliveries] == ["pending", "pending", "digested", "digested"]
    counter = Counter(ada.pk, comments.pk, "email", Window(HOUR, 2), timezone.now())
    assert counts_read(counter_client(), [counter]) == [2]


def test_a_category_that_drops_over_the_cap_throttles_without_a_digest_item(comments, ada):
    comments.over_cap_action = OverCapAction.DROP
    comments.max_per_day = 1
    comments.save()

    deliveries = [plan_one(comments, ada) for _ in range(2)]

    assert deliveries[0].status == Delivery.Status.PENDING
    assert deliveries[1].status == Delivery.Status.THROTTLED
    assert deliveries[1].reason == "over the cap of 1 per day for comment_reply by email: dropped"
    assert not DigestItem.objects.exists()


def test_caps_count_per_user(comments, ada):
    bob = factories.UserFactory(username="bob")

    ada_deliveries = [plan_one(comments, ada) for _ in range(3)]
    bob_delivery = plan_one(comments, bob)

    assert [d.status for d in ada_deliveries] == ["pending", "pending", "digested"]
    assert bob_delivery.status == Delivery.Status.PENDING


def test_a_users_own_lower_cap_applies(comments, ada):
    factories.PreferenceFactory(user=ada, category=comments, channel="email", enabled=True, max_per_hour=1)

    assert [plan_one(comments, ada).status for _ in range(2)] == ["pending", "digested"]


def test_a_burst_folds_into_a_digest_due_when_the_burst_window_ends(ada):
    comments = factories.category_with_templates(
        slug="comment_reply", channels=("email",), burst_limit=1, burst_window_seconds=DAY
    )

    first, second = plan_one(comments, ada), plan_one(comments, ada)

    assert (first.status, second.status) == ("pending", "digested")
    assert "a burst of more than 1 in 86400 s" in second.reason
    assert DigestItem.objects.get().due_at == window_end(timezone.now(), DAY)


def test_required_categories_are_never_capped_or_counted(ada):
    security = factories.category_with_templates(
        slug="password_reset", channels=("email",), kind="security", max_per_hour=1
    )

    assert [plan_one(security, ada).status for _ in range(3)] == ["pending"] * 3
    assert not any(counter_client().scan_iter(match=f"clarion:sent:{ada.pk}:*"))


def test_a_digest_frequency_sends_non_required_messages_to_the_digest(comments, ada):
    factories.NotificationSettingsFactory(user=ada, timezone="Europe/Berlin", digest_frequency="daily", digest_hour=8)
    notification = notify(comments, ada, channels=["email", "in_app"])

    notifications_plan([notification.pk])

    deliveries = {d.channel: d for d in Delivery.objects.filter(notification=notification)}
    assert deliveries["email"].status == Delivery.Status.DIGESTED
    assert deliveries["email"].reason.startswith("added to the daily digest due ")
    assert deliveries["in_app"].status == Delivery.Status.PENDING
    item = DigestItem.objects.get()
    assert item.channel == "email"
    local_due = item.due_at.astimezone(ZoneInfo("Europe/Berlin"))
    assert (local_due.hour, local_due.minute) == (8, 0)
    assert timedelta(0) < item.due_at - timezone.now() <= timedelta(days=1)


def test_a_preference_turns_a_digest_on_for_one_category_and_channel(comments, ada):
    factories.NotificationSettingsFactory(user=ada)
    factories.PreferenceFactory(user=ada, category=comments, channel="sms", enabled=True, digest_frequency="hourly")

    notification = notify(comments, ada, channels=["email", "sms"])
    notifications_plan([notification.pk])

    deliveries = dict(Delivery.objects.filter(notification=notification).values_list("channel", "status"))
    assert deliveries == {"email": "pending", "sms": "digested"}


# --- dedup ---------------------------------------------------------------------------------


def test_a_repeated_dedup_key_is_skipped_as_a_duplicate_of_the_first(comments, ada):
    comments.max_per_hour = None
    comments.save()
    first = notify(comments, ada, dedup_key="post-9", channels=["email", "in_app"])
    repeat = notify(comments, ada, dedup_key="post-9", channels=["email", "in_app"])
    other = notify(comments, ada, dedup_key="post-10", channels=["email", "in_app"])

    notifications_plan([first.pk])
    notifications_plan([repeat.pk, other.pk])

    rows = Delivery.objects.values_list("notification_id", "channel", "status", "reason")
    by_notification = {}
    for notification_id, channel, status, reason in rows:
        by_notification.setdefault(notification_id, {})[channel] = (status, reason)
    assert {s for s, _ in by_notification[first.pk].values()} == {"pending"}
    assert by_notification[repeat.pk] == {
        "email": ("skipped", f"duplicate of {first.pk}"),
        "in_app": ("skipped", f"duplicate of {first.pk}"),
    }
    assert {s for s, _ in by_notification[other.pk].values()} == {"pending"}


def test_dedup_keys_are_per_recipient_and_category(comments, ada):
    bob = factories.UserFactory(username="bob")
    mentions = factories.category_with_templates(slug="mention", channels=("email",))

    deliveries = [plan_one(comments, ada, dedup_key="k"), plan_one(comments, bob, dedup_key="k")]
    deliveries.append(plan_one(mentions, ada, dedup_key="k"))

    assert [d.status for d in deliveries] == ["pending"] * 3


def test_a_duplicate_within_one_batch_is_skipped(comments, ada):
    first, repeat = notify(comments, ada, dedup_key="k"), notify(comments, ada, dedup_key="k")

    notifications_plan([first.pk, repeat.pk])

    assert statuses([first, repeat]) == ["pending", "skipped"]


def test_a_category_with_dedup_off_sends_repeats(comments, ada):
    comments.dedup_window_seconds = 0
    comments.save()

    assert [plan_one(comments, ada, dedup_key="k").status for _ in range(2)] == ["pending", "pending"]


def test_replanning_a_notification_does_not_make_it_a_duplicate_of_itself(comments, ada):
    notification = notify(comments, ada, dedup_key="k")
    notifications_plan([notification.pk])
    Delivery.objects.filter(notification=notification).delete()
    Notification.objects.filter(pk=notification.pk).update(status=Notification.Status.ACCEPTED)

    notifications_plan([notification.pk])

    assert Delivery.objects.get(notification=notification).status == Delivery.Status.PENDING


# --- Redis down ----------------------------------------------------------------------------


def test_without_redis_nothing_is_lost_messages_are_sent_and_the_outage_logged(comments, ada, settings, caplog):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    first = notify(comments, ada, dedup_key="k")
    notifications = [first, *(notify(comments, ada, dedup_key="k") for _ in range(3))]

    with caplog.at_level(logging.WARNING, logger="delivery.planning"):
        notifications_plan([n.pk for n in notifications])

    assert statuses(notifications) == ["pending"] * 4
    assert "Redis unavailable" in caplog.text


# --- query count ---------------------------------------------------------------------------

# Notifications with users, settings and categories; preferences; devices; then the
# deliveries, the digest items and the status update between a savepoint and its release.
PLAN_MAX_QUERIES = 8


def batches(model, count: int) -> int:
    size = connection.ops.bulk_batch_size(list(model._meta.concrete_fields), [None] * count)
    return math.ceil(count / size)


@pytest.mark.parametrize("count", [1, 40])
def test_plan_query_count_with_caps_does_not_grow_with_notifications(comments, count, django_assert_max_num_queries):
    comments.max_per_hour = 0  # everything goes to the digest
    comments.save()
    ids = []
    for index in range(count):
        user = factories.UserFactory(username=f"reader{index}")
        factories.NotificationSettingsFactory(user=user)
        factories.PreferenceFactory(user=user, category=comments, channel="email", enabled=True, max_per_day=5)
        ids.append(notify(comments, user).pk)

    extra = batches(Delivery, count) + batches(DigestItem, count) - 2
    with django_assert_max_num_queries(PLAN_MAX_QUERIES + extra):
        notifications_plan(ids)

    assert DigestItem.objects.count() == count


def test_due_times_are_aware_utc(comments, ada):
    comments.max_per_hour = 0
    comments.save()

    plan_one(comments, ada)

    assert DigestItem.objects.get().due_at.utcoffset() == datetime(2024, 1, 1, tzinfo=UTC).utcoffset()
