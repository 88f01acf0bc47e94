"""`request_insert`: one statement writes a request and its notifications (a CTE and UNNEST
on PostgreSQL, the ORM elsewhere), each row whole and in the recipients' order."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext

from notifications import accept_insert
from notifications.accept_insert import NewRequest, request_insert
from notifications.models import Notification, NotificationRequest
from tests import factories

pytestmark = pytest.mark.django_db


def _new(recipient_ids: list[int], **overrides) -> NewRequest:
    values = {
        "api_key_id": factories.ApiKeyFactory().pk,
        "idempotency_key": None,
        "body_hash": "ab" * 32,
        "category_id": factories.CategoryFactory().pk,
        "recipient_ids": recipient_ids,
        "data": {"author": "Grace ☃", "nested": {"list": [1, 2.5, None, True]}, "quote": 'it\'s "fine"'},
        "priority": "high",
        "channels": ["email", "in_app"],
        "dedup_key": "post-17:new-comment",
    }
    return NewRequest(**{**values, **overrides})


def test_every_row_has_the_shared_values_and_its_own_recipient_in_order():
    users = factories.UserFactory.create_batch(3)
    new = _new([users[2].pk, users[0].pk, users[1].pk], idempotency_key="order-17")

    accepted = request_insert(new)

    assert [a.recipient_id for a in accepted] == new.recipient_ids
    assert {a.status for a in accepted} == {Notification.Status.ACCEPTED}
    request = NotificationRequest.objects.get()
    assert (request.api_key_id, request.idempotency_key, request.body_hash) == (
        new.api_key_id,
        "order-17",
        new.body_hash,
    )
    rows = Notification.objects.in_bulk([a.pk for a in accepted])
    assert request.created_at <= min(row.created_at for row in rows.values())
    for written in accepted:
        row = rows[written.pk]
        assert row.recipient_id == written.recipient_id
        assert (row.request_id, row.category_id) == (request.pk, new.category_id)
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
    accepted = request_insert(_new([u.pk for u in reversed(users)]))
    rows = Notification.objects.in_bulk([a.pk for a in accepted])
    created = [rows[a.pk].created_at for a in accepted]
    assert created == sorted(set(created))
    assert all(rows[a.pk].updated_at == rows[a.pk].created_at for a in accepted)


def _writes(captured: CaptureQueriesContext) -> list[str]:
    """The statements captured, without the savepoint around them (the test's transaction)."""
    return [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]


def test_the_same_statements_however_many_recipients():
    users = factories.UserFactory.create_batch(40)
    few_new, many_new = _new([u.pk for u in users[:2]]), _new([u.pk for u in users])
    with CaptureQueriesContext(connection) as few:
        request_insert(few_new)
    with CaptureQueriesContext(connection) as many:
        request_insert(many_new)
    assert len(_writes(many)) == len(_writes(few)) == (1 if connection.vendor == "postgresql" else 2)
    assert NotificationRequest.objects.count() == 2
    assert Notification.objects.count() == 42


def test_a_used_idempotency_key_writes_nothing_and_leaves_the_transaction_usable():
    user = factories.UserFactory()
    first = _new([user.pk], idempotency_key="once")
    request_insert(first)
    with pytest.raises(IntegrityError):
        request_insert(_new([user.pk], api_key_id=first.api_key_id, idempotency_key="once"))
    assert NotificationRequest.objects.count() == 1
    assert Notification.objects.count() == 1


def test_empty_data_and_channels_are_written_as_such():
    user = factories.UserFactory()
    (accepted,) = request_insert(_new([user.pk], data={}, channels=[], dedup_key="", priority="normal"))
    row = Notification.objects.get(pk=accepted.pk)
    assert (row.data, row.channels, row.dedup_key, row.priority) == ({}, [], "", "normal")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the UNNEST statement is PostgreSQL's")
def test_a_model_field_the_statement_does_not_know_is_refused(monkeypatch):
    # Stands for a field added to Notification without a value in request_insert: the
    # statement refuses to run rather than leave the column to a database default.
    monkeypatch.setattr(accept_insert, "PER_ROW_FIELDS", ("id",))
    user = factories.UserFactory()
    with pytest.raises(LookupError, match="recipient"):
        request_insert(_new([user.pk]))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the CTE statement is PostgreSQL's")
def test_a_request_field_the_statement_does_not_know_is_refused(monkeypatch):
    monkeypatch.setattr(accept_insert, "REQUEST_FIELDS", ("api_key", "idempotency_key", "created_at"))
    user = factories.UserFactory()
    with pytest.raises(LookupError, match="body_hash"):
        request_insert(_new([user.pk]))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite writes the two rows in a transaction")
@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_statement_commits_as_it_runs():
    """No BEGIN or COMMIT of its own: the statement runs in autocommit mode, and its rows are
    there for every other connection once it returns."""
    new = _new([user.pk for user in factories.UserFactory.create_batch(2)])
    autocommit_seen = []

    def wrapper(execute, sql, params, many, context):
        autocommit_seen.append(connection.get_autocommit())
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        accepted = request_insert(new)

    assert autocommit_seen == [True]
    assert not connection.in_atomic_block
    other = connection.copy()
    try:
        with other.cursor() as cursor:
            table = Notification._meta.db_table
            cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE id = ANY(%s)", [[a.pk for a in accepted]])  # noqa: S608
            assert cursor.fetchone() == (2,)
    finally:
        other.close()
