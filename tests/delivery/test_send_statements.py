"""The claim and a round's results, each one statement on PostgreSQL (delivery/send_statements.py)
and the ORM's few elsewhere: the same rows either way."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from delivery.models import Delivery, DeliveryAttempt
from delivery.sending import NextStep, deliveries_claim, provider_calls, send_prepare, sends_record
from tests import factories
from tests.support.answering_provider import BOUNCING_ADDRESS, AnsweringProvider
from tests.support.row_locks import held_elsewhere

ON_POSTGRESQL = connection.vendor == "postgresql"


@pytest.fixture
def answering_chain(monkeypatch):
    chain = (AnsweringProvider(),)
    monkeypatch.setattr("delivery.sending.provider_chain", lambda channel: chain)


def _deliveries(count: int, channel: str = "email", **fields) -> list[Delivery]:
    return [
        factories.DeliveryFactory(channel=channel, content={"to": f"u{n}@example.com", "body": "Hi"}, **fields)
        for n in range(count)
    ]


def test_a_claim_takes_the_queued_ones_in_the_order_given_as_they_are_stored(db):
    queued = _deliveries(3, provider_index=1, provider_attempts=2)
    sent = factories.DeliveryFactory(status=Delivery.Status.SENT)
    wanted = [queued[2].pk, sent.pk, queued[0].pk, queued[1].pk]

    with CaptureQueriesContext(connection) as statements:
        claimed = deliveries_claim(wanted)

    assert [d.pk for d in claimed] == [queued[2].pk, queued[0].pk, queued[1].pk]
    if ON_POSTGRESQL:
        assert len(statements.captured_queries) == 1
    stored = Delivery.objects.in_bulk(wanted)
    for delivery in claimed:
        row = stored[delivery.pk]
        assert row.status == delivery.status == Delivery.Status.SENDING
        assert row.claimed_at == delivery.claimed_at is not None
        assert (delivery.content, delivery.provider_index, delivery.provider_attempts) == (row.content, 1, 2)
        assert delivery.notification_id == row.notification_id
    assert stored[sent.pk].status == Delivery.Status.SENT
    assert deliveries_claim(wanted) == []


@pytest.mark.skipif(not ON_POSTGRESQL, reason="row locks need PostgreSQL; SQLite locks the database")
def test_a_claim_skips_a_delivery_another_transaction_holds_and_takes_the_rest(transactional_db):
    held, free = _deliveries(2)

    with held_elsewhere(lambda: list(Delivery.objects.select_for_update().filter(pk=held.pk))):
        while_held = deliveries_claim([held.pk, free.pk])

    assert [d.pk for d in while_held] == [free.pk]
    assert Delivery.objects.get(pk=held.pk).status == Delivery.Status.QUEUED
    assert [d.pk for d in deliveries_claim([held.pk, free.pk])] == [held.pk]


def test_a_round_of_successes_writes_every_attempt_and_status_in_one_statement(db, answering_chain):
    deliveries = _deliveries(2) + _deliveries(1, channel="sms")
    claimed = deliveries_claim([d.pk for d in deliveries])
    prepared = [send_prepare(delivery) for delivery in claimed]
    calls = provider_calls(prepared)

    with CaptureQueriesContext(connection) as statements:
        steps = sends_record(list(zip(prepared, calls, strict=True)))

    assert [step.next_step for step in steps] == [NextStep.NONE] * 3
    if ON_POSTGRESQL:
        assert len(statements.captured_queries) == 1
    for delivery, call in zip(claimed, calls, strict=True):
        row = Delivery.objects.get(pk=delivery.pk)
        assert (row.status, row.provider_message_id, row.sent_at) == ("sent", f"id-{delivery.pk}", call.finished_at)
        attempt = DeliveryAttempt.objects.get(delivery=delivery)
        assert (attempt.provider, attempt.outcome, attempt.provider_message_id) == (
            "answering",
            "delivered",
            f"id-{delivery.pk}",
        )
        assert (attempt.started_at, attempt.finished_at) == (call.started_at, call.finished_at)
        sms = delivery.channel == "sms"
        assert (attempt.sms_encoding, attempt.sms_segments) == (("GSM-7", 1) if sms else ("", None))


def test_a_round_with_a_failure_among_its_successes_records_each_in_one_transaction(db, answering_chain):
    delivered, bounced = _deliveries(2)
    Delivery.objects.filter(pk=bounced.pk).update(content={"to": BOUNCING_ADDRESS, "body": "Hi"})
    claimed = deliveries_claim([delivered.pk, bounced.pk])
    prepared = [send_prepare(delivery) for delivery in claimed]

    steps = sends_record(list(zip(prepared, provider_calls(prepared), strict=True)))

    assert [step.failed for step in steps] == [False, True]
    rows = Delivery.objects.in_bulk([delivered.pk, bounced.pk])
    assert rows[delivered.pk].status == Delivery.Status.SENT
    assert rows[bounced.pk].status == Delivery.Status.FAILED and "bounced" in rows[bounced.pk].reason
    outcomes = dict(DeliveryAttempt.objects.values_list("delivery_id", "outcome"))
    assert outcomes == {delivered.pk: "delivered", bounced.pk: "permanent"}
