"""Flushing due digests: one rendered message per user × category × channel, sent through
the ordinary send path, exactly once even when two flushers run at the same time."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from delivery.models import Delivery, OutboxMessage
from delivery.sending import delivery_send
from digests import services
from digests.models import DigestItem, DigestTemplate
from digests.services import digest_flush
from notifications.models import Notification
from tests import factories
from tests.support.digests import digest_deliveries, fold
from tests.support.row_locks import held_elsewhere

# Every send in this module goes to the dev outbox.
pytestmark = pytest.mark.usefixtures("outbox_chains")


@pytest.fixture
def comments(db):
    return factories.category_with_templates(slug="comment_reply", channels=("email", "sms", "push"))


def user(name: str, **settings):
    person = factories.UserFactory(username=name, email=f"{name}@example.com", first_name=name.title())
    factories.NotificationSettingsFactory(user=person, phone_number="+15555550100", **settings)
    return person


def test_due_items_flush_into_one_queued_digest_per_user_category_and_channel(comments):
    ada, bob = user("ada"), user("bob")
    fold(comments, ada, 3)
    fold(comments, ada, 2, channel="sms")
    fold(comments, bob, 1)
    later = fold(comments, ada, 1, due_in=timedelta(hours=1))

    result = digest_flush()

    digests = {(d.notification.recipient_id, d.channel): d for d in digest_deliveries()}
    assert set(digests) == {(ada.pk, "email"), (ada.pk, "sms"), (bob.pk, "email")}
    assert all(d.status == Delivery.Status.QUEUED for d in digests.values())
    assert result.digests == 3
    assert {q: sorted(ids) for q, ids in result.to_send.items()} == {
        "email": sorted([digests[(ada.pk, "email")].pk, digests[(bob.pk, "email")].pk]),
        "sms": [digests[(ada.pk, "sms")].pk],
    }
    ada_email = digests[(ada.pk, "email")]
    assert ada_email.content["to"] == "ada@example.com"
    assert ada_email.content["subject"] == "3 new Comment Reply notifications"
    assert ada_email.content["body"].startswith("- Hello reply 1\n- Hello reply 2\n- Hello reply 3\n\nUnsubscribe")
    assert ada_email.content["unsubscribe_url"] in ada_email.content["body"]
    assert ada_email.reason == "digest of 3 notifications: enabled"
    assert ada_email.notification.data == {"digest": {"count": 3}}
    assert ada_email.notification.status == Notification.Status.PLANNED
    assert digests[(ada.pk, "sms")].content["body"].startswith("2 new Comment Reply notifications: ")
    assert digests[(bob.pk, "email")].content["subject"] == "1 new Comment Reply notification"
    flushed = DigestItem.objects.filter(user=ada, channel="email", flushed_at__isnull=False)
    assert {item.digest_id for item in flushed} == {ada_email.notification_id}
    assert flushed.count() == 3
    later[0].refresh_from_db()
    assert later[0].flushed_at is None


def test_a_second_flush_sends_nothing_more(comments):
    fold(comments, user("ada"), 3)
    digest_flush()

    again = digest_flush()

    assert again.digests == 0
    assert digest_deliveries().count() == 1


def test_the_digest_is_sent_by_the_ordinary_send_path(comments):
    fold(comments, user("ada"), 2)
    [delivery_id] = digest_flush().to_send["email"]

    delivery_send(delivery_id)

    assert Delivery.objects.get(pk=delivery_id).status == Delivery.Status.SENT
    message = OutboxMessage.objects.get()
    assert (message.to, message.subject, message.reference) == (
        "ada@example.com",
        "2 new Comment Reply notifications",
        str(delivery_id),
    )


def test_the_admins_digest_template_reads_the_count_and_the_first_items(comments):
    DigestTemplate.objects.create(
        category=comments,
        channel="email",
        subject="{{ count }} new comments on your post",
        body="{% for item in items %}{{ item.data.name }};{% endfor %}{% if more %} +{{ more }}{% endif %}",
    )
    fold(comments, user("ada"), 12)

    digest_flush()

    content = digest_deliveries().get().content
    assert content["subject"] == "12 new comments on your post"
    assert content["body"].startswith(";".join(f"reply {n}" for n in range(1, 11)) + "; +2\n\nUnsubscribe")


def test_a_broken_digest_template_fails_the_digest_with_a_reason(comments):
    DigestTemplate.objects.create(category=comments, channel="email", subject="{% if %}", body="x")
    fold(comments, user("ada"), 2)

    result = digest_flush()

    delivery = digest_deliveries().get()
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.reason.startswith("digest template error in subject")
    assert result.to_send == {}
    assert not DigestItem.objects.filter(flushed_at__isnull=True).exists()


def test_a_digest_due_in_quiet_hours_is_scheduled_for_their_end(comments):
    now = timezone.now()
    ada = user(
        "ada",
        timezone="UTC",
        quiet_hours_start=(now - timedelta(hours=1)).time().replace(microsecond=0),
        quiet_hours_end=(now + timedelta(hours=1)).time().replace(second=0, microsecond=0),
    )
    fold(comments, ada, 2)

    result = digest_flush()

    delivery = digest_deliveries().get()
    assert delivery.status == Delivery.Status.SCHEDULED
    assert delivery.scheduled_for > now
    assert "quiet hours until" in delivery.reason
    assert result.to_schedule == [(delivery.pk, delivery.scheduled_for)]
    assert delivery.content["subject"] == "2 new Comment Reply notifications"


def test_a_digest_for_a_channel_opted_out_since_is_skipped_and_its_items_closed(comments):
    ada = user("ada")
    fold(comments, ada, 2)
    factories.PreferenceFactory(user=ada, category=comments, channel="email", enabled=False)

    result = digest_flush()

    delivery = digest_deliveries().get()
    assert delivery.status == Delivery.Status.SKIPPED
    assert delivery.reason == "digest of 2 notifications: recipient opted out of comment_reply by email"
    assert result.to_send == {}
    assert not DigestItem.objects.filter(flushed_at__isnull=True).exists()


def test_a_push_digest_goes_to_the_users_active_devices(comments):
    ada = user("ada")
    factories.DeviceFactory(user=ada, token="phone-1")
    factories.DeviceFactory(user=ada, token="old-phone", active=False)
    fold(comments, ada, 2, channel="push")

    digest_flush()

    content = digest_deliveries().get().content
    assert (content["to"], content["tokens"], content["title"]) == (
        "phone-1",
        ["phone-1"],
        "2 new Comment Reply notifications",
    )


def test_a_full_batch_never_splits_one_digest_in_two(comments, monkeypatch):
    monkeypatch.setattr(services, "FLUSH_BATCH", 4)
    ada, bob = user("ada"), user("bob")
    fold(comments, ada, 3)
    fold(comments, bob, 3)

    first, second = digest_flush(), digest_flush()

    assert (first.digests, first.more, second.digests, second.more) == (1, True, 1, False)
    counts = sorted(d.notification.data["digest"]["count"] for d in digest_deliveries())
    assert counts == [3, 3]


# --- concurrent flushers -------------------------------------------------------------------


def _flush_in_thread(start: threading.Barrier) -> int:
    try:
        start.wait()
        return digest_flush().digests
    finally:
        connection.close()


@pytest.mark.parametrize("flushers", [2, 4])
def test_concurrent_flushers_send_one_digest_per_user_category_and_channel(transactional_db, flushers):
    comments = factories.category_with_templates(slug="comment_reply", channels=("email", "sms"))
    for index in range(8):
        reader = user(f"reader{index}")
        fold(comments, reader, 3)
        fold(comments, reader, 2, channel="sms")
    start = threading.Barrier(flushers)

    with ThreadPoolExecutor(max_workers=flushers) as pool:
        sent = sum(pool.map(lambda _: _flush_in_thread(start), range(flushers)))

    digests = list(digest_deliveries().values_list("notification__recipient_id", "channel"))
    assert sent == 16
    assert len(digests) == len(set(digests)) == 16
    assert not DigestItem.objects.filter(flushed_at__isnull=True).exists()
    assert DigestItem.objects.values("digest_id").distinct().count() == 16


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL; SQLite locks the database")
def test_a_flusher_skips_a_group_another_flusher_holds(transactional_db):
    comments = factories.category_with_templates(slug="comment_reply", channels=("email",))
    ada = user("ada")
    fold(comments, ada, 3)

    def hold_the_rows() -> None:
        assert services._group_lock((ada.pk, comments.pk, "email"))
        list(DigestItem.objects.select_for_update())

    with held_elsewhere(hold_the_rows):
        while_locked = digest_flush()
    after = digest_flush()

    assert while_locked.digests == 0
    assert after.digests == 1
    assert digest_deliveries().count() == 1
