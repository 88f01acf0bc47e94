"""`notifications_insert`: one statement writes a request's notifications (UNNEST on
PostgreSQL, bulk_create elsewhere), each row whole and in the recipients' order."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications import accept_insert
from notifications.accept_insert import NewNotifications, notifications_insert
from notifications.models import Notification
from tests import factories

pytestmark = pytest.mark.django_db


def _new(recipient_ids: list[int], **overrides) -> NewNotifications:
    values = {
        "request_id": factories.NotificationRequestFactory().pk,
        "category_id": factories.CategoryFactory().pk,
        "recipient_ids": recipient_ids,
        "data": {"author": "Grace ☃", "nested": {"list": [1, 2.5, None, True]}, "quote": 'it\'s "fine"'},
        "priority": "high",
        "channels": ["email", "in_app"],
        "dedup_key": "post-17:new-comment",
    }
    return NewNotifications(**{**values, **overrides})


def test_every_row_has_the_shared_values_and_its_own_recipient_in_order():
    users = factories.UserFactory.create_batch(3)
    new = _new([users[2].pk, users[0].pk, users[1].pk])

    accepted = notifications_insert(new)

    assert [a.recipient_id for a in accepted] == new.recipient_ids
    assert {a.status for a in accepted} == {Notification.Status.ACCEPTED}
    rows = Notification.objects.in_bulk([a.pk for a in accepted])
    for written in accepted:
        row = rows[written.pk]
        assert row.recipient_id == written.recipient_id
        assert (row.request_id, row.category_id) == (new.request_id, new.category_id)
        assert (row.data, row.priority, row.channels, row.dedup_key) == (
            new.data,
            new.priority,
            new.channels,
            new.dedup_key,
        )
        assert row.status == Notification.Status.ACCEPTED
        assert row.created_at is not None and row.updated_at >= row.created_at
    created = [rows[a.pk].created_at for a in accepted]
    assert created == sorted(created), "a replay lists them by created_at: it must follow the recipients' order"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the UNNEST statement is PostgreSQL's")
def test_timestamps_follow_the_recipients_order_strictly():
    users = factories.UserFactory.create_batch(5)
    accepted = notifications_insert(_new([u.pk for u in reversed(users)]))
    rows = Notification.objects.in_bulk([a.pk for a in accepted])
    created = [rows[a.pk].created_at for a in accepted]
    assert created == sorted(set(created))
    assert all(rows[a.pk].updated_at == rows[a.pk].created_at for a in accepted)


def test_one_statement_however_many_recipients():
    users = factories.UserFactory.create_batch(40)
    few_new, many_new = _new([u.pk for u in users[:2]]), _new([u.pk for u in users])
    with CaptureQueriesContext(connection) as few:
        notifications_insert(few_new)
    with CaptureQueriesContext(connection) as many:
        notifications_insert(many_new)
    assert len(many.captured_queries) == len(few.captured_queries) == 1
    assert Notification.objects.count() == 42


def test_empty_data_and_channels_are_written_as_such():
    user = factories.UserFactory()
    (accepted,) = notifications_insert(_new([user.pk], data={}, channels=[], dedup_key="", priority="normal"))
    row = Notification.objects.get(pk=accepted.pk)
    assert (row.data, row.channels, row.dedup_key, row.priority) == ({}, [], "", "normal")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the UNNEST statement is PostgreSQL's")
def test_a_model_field_the_statement_does_not_know_is_refused(monkeypatch):
    # Stands for a field added to Notification without a value in notifications_insert: the
    # statement refuses to run rather than leave the column to a database default.
    monkeypatch.setattr(accept_insert, "PER_ROW_FIELDS", ("id",))
    user = factories.UserFactory()
    with pytest.raises(LookupError, match="recipient"):
        notifications_insert(_new([user.pk]))
