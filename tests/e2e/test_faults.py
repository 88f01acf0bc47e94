"""Fault injection through real processes: nothing lost, nothing doubled (DESIGN.md §3).

Each test breaks one thing a production system loses sooner or later (the broker, a worker,
the provider, a task acknowledgement) and counts what arrived at the SMTP stub, by delivery.
Recovery never waits for Redis' visibility timeout (hours); it comes from the database
sweeper, and the claim (`queued → sending`) keeps the copies it creates harmless.
"""

from __future__ import annotations

import os
import re
import signal
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection
from django.db.models import QuerySet

from config.celery import app as celery_app
from delivery.models import Delivery, DeliveryAttempt
from delivery.planning import notifications_plan
from delivery.routing import deliveries_route
from notifications.models import ApiKey, Notification, NotificationRequest
from scripts.embedded_redis import EmbeddedRedis
from tests import factories
from tests.support.processes import ManagedProcess, wait_for
from tests.support.smtp_server import SmtpBehaviour, SmtpServer

pytestmark = pytest.mark.e2e

SEND_TASK = "delivery.tasks.delivery_send_task"
SWEEP_DONE = re.compile(r"pipeline_sweep_task\[[^\]]+\] succeeded")
SEND_RECEIVED = re.compile(r"delivery_send_task\[[^\]]+\] received")
SEND_DONE = re.compile(r"delivery_send_task\[[^\]]+\] succeeded")


@pytest.fixture
def broker() -> Iterator[EmbeddedRedis]:
    """A Redis of this test's own, so the test can stop and restart it.

    Request it before `processes`: fixtures tear down in reverse, so the processes stop
    while their broker is still there to take back what they hold.
    """
    server = EmbeddedRedis().start()
    yield server
    server.stop()


@pytest.fixture
def smtp_stub() -> Iterator[Callable[[SmtpBehaviour], SmtpServer]]:
    servers: list[SmtpServer] = []

    def start(behaviour: SmtpBehaviour) -> SmtpServer:
        server = SmtpServer(behaviour).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _post(base_url: str, key: str, category: str, recipients: list[str]) -> requests.Response:
    return requests.post(
        f"{base_url}/api/v1/notifications",
        json={"category": category, "recipients": recipients, "data": {"name": "Ada"}},
        headers={"Authorization": f"Api-Key {key}"},
        timeout=30,
    )


def _sweeps_done(*workers: ManagedProcess) -> int:
    return sum(len(SWEEP_DONE.findall(worker.log())) for worker in workers)


def _wait_for_more_sweeps(workers: list[ManagedProcess], count: int) -> None:
    """Let the sweeper run `count` more times, so a late duplicate would have shown up."""
    target = _sweeps_done(*workers) + count
    wait_for(lambda: _sweeps_done(*workers) >= target, timeout=30, message=f"{count} more sweeps")


def _statuses(deliveries: QuerySet[Delivery]) -> Counter[str]:
    return Counter(deliveries.values_list("status", flat=True))


def test_broker_down_at_accept_still_returns_202_and_sweeper_delivers_once_broker_returns(
    broker, processes, smtp_server
):
    category = factories.category_with_templates(slug="password_changed", channels=("email",))
    factories.UserFactory(username="grace")
    factories.UserFactory(username="hopper")
    key = factories.api_key()
    web, base_url = processes.web(env={"REDIS_URL": broker.url})
    # Published while the broker is up, then lost with it: Redis keeps nothing on disk here.
    before = _post(base_url, key, category.slug, ["hopper"])
    assert before.status_code == 202, before.text
    broker.stop()

    response = _post(base_url, key, category.slug, ["grace"])

    assert response.status_code == 202, response.text
    (accepted,) = response.json()["notifications"]
    assert accepted["status"] == "accepted"
    web.wait_for_log("left for the sweeper")
    # Durable before acknowledged: the row is committed although nothing reached a queue.
    assert Notification.objects.get(pk=accepted["id"]).status == Notification.Status.ACCEPTED
    assert not Delivery.objects.filter(notification_id=accepted["id"]).exists()

    broker.start()
    pipeline_env = {"REDIS_URL": broker.url, **smtp_server.env()}
    worker = processes.worker(env=pipeline_env)
    processes.beat(env=pipeline_env)

    deliveries = Delivery.objects.filter(notification_id__in=[accepted["id"], before.json()["notifications"][0]["id"]])
    wait_for(lambda: _statuses(deliveries) == {Delivery.Status.SENT: 2}, timeout=30, message="both to be sent")
    swept = sum(int(n) for n in re.findall(r"sweeper re-enqueued (\d+) notifications to plan", worker.log()))
    assert swept >= 2
    _wait_for_more_sweeps([worker], 2)
    assert smtp_server.delivery_counts() == {str(pk): 1 for pk in deliveries.values_list("pk", flat=True)}


def _backends_dropped() -> int:
    """Have PostgreSQL terminate every connection to the test database but this one, as a
    restart does, and return once they are gone."""
    others = "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(pg_terminate_backend(pid)) {others}")
        (dropped,) = cursor.fetchone()

    def gone() -> bool:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) {others}")
            return cursor.fetchone()[0] == 0

    wait_for(gone, timeout=10, message="the terminated backends to exit")
    return dropped


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the pooled connections are PostgreSQL's")
def test_postgresql_dropping_every_connection_fails_no_request_and_loses_no_delivery(processes, smtp_server):
    """The web server's and the worker's pooled connections all dropped at once, as by a
    PostgreSQL restart: the next requests are accepted and every email goes out once."""
    category = factories.category_with_templates(slug="password_changed", channels=("email",))
    users = [factories.UserFactory(username=f"user{n}").username for n in range(4)]
    key = factories.api_key()
    _, base_url = processes.web()
    processes.worker(env=smtp_server.env())
    first = _post(base_url, key, category.slug, users[:1])
    assert first.status_code == 202, first.text
    deliveries = Delivery.objects.filter(notification__category=category)
    wait_for(lambda: _statuses(deliveries) == {Delivery.Status.SENT: 1}, timeout=30, message="the first to be sent")

    assert _backends_dropped() >= 2  # the web server's and the worker's at least

    for user in users[1:]:
        response = _post(base_url, key, category.slug, [user])
        assert response.status_code == 202, response.text
    wait_for(lambda: _statuses(deliveries) == {Delivery.Status.SENT: 4}, timeout=30, message="all four to be sent")
    assert smtp_server.delivery_counts() == {str(pk): 1 for pk in deliveries.values_list("pk", flat=True)}


def test_worker_killed_mid_batch_loses_nothing_and_doubles_only_sends_in_flight(processes, smtp_stub):
    """SIGKILL the worker twice while it works through 200 emails.

    The killed tasks stay unacknowledged in Redis until the (hours-long) visibility timeout,
    so the sweeper recovers their deliveries: `queued` ones after the queued grace,
    `sending` ones after the sending grace. Only a delivery caught in `sending` by a kill
    can arrive twice (the provider took it, the dead worker never recorded it).

    A send task overlaps up to CLARION_SEND_CONCURRENCY provider calls (delivery/send_pool.py)
    and claims a delivery (`queued → sending`) only when that window has room for its call,
    taking it out of `sending` in the same transaction that records the call's result. So a
    task never has more than CLARION_SEND_CONCURRENCY deliveries in `sending`, a pool process
    runs one task at a time, and each kill can catch, and so double, at most
    concurrency × CLARION_SEND_CONCURRENCY sends.
    """
    total, concurrency, kills_at = 200, 2, (30, 100)
    in_doubt_per_kill = concurrency * settings.CLARION_SEND_CONCURRENCY
    category = factories.category_with_templates(slug="weekly_news", channels=("email",))
    users = factories.UserFactory.create_batch(total)
    key = factories.api_key()
    smtp = smtp_stub(SmtpBehaviour(delay_seconds=0.02))
    env = smtp.env()
    workers = [processes.worker(env=env, concurrency=concurrency)]
    processes.beat(env=env)
    _, base_url = processes.web()

    response = _post(base_url, key, category.slug, [user.username for user in users])

    assert response.status_code == 202, response.text
    deliveries = Delivery.objects.filter(notification_id__in=[n["id"] for n in response.json()["notifications"]])
    # Claims (delivery id, claim time) that a kill caught in `sending`. A claim caught by
    # one kill may still be waiting out the sending grace when the next kill lands.
    caught_claims: set[tuple[int, datetime]] = set()
    for arrivals in kills_at:
        wait_for(lambda n=arrivals: len(smtp.messages) >= n, timeout=60, message=f"{arrivals} emails to arrive")
        workers[-1].kill()
        # Nothing moves rows while no worker runs (beat only publishes): this is exactly
        # what the dead worker held.
        in_flight = set(deliveries.filter(status=Delivery.Status.SENDING).values_list("pk", "updated_at"))
        assert len(in_flight - caught_claims) <= in_doubt_per_kill
        assert deliveries.filter(status=Delivery.Status.SENT).count() < total, "the kill came after the batch"
        caught_claims |= in_flight
        workers.append(processes.worker(env=env, concurrency=concurrency))
    # A pool process spends nearly all its time between claim and record, so kills that
    # catch none in flight would be a fluke, and would leave `sending` recovery untested.
    assert caught_claims

    wait_for(lambda: _statuses(deliveries) == {Delivery.Status.SENT: total}, timeout=60, message="all to be sent")
    assert any("sweeper re-enqueued" in worker.log() for worker in workers[1:])
    workers[-1].stop()  # lets it finish what it holds, so the counts below are final

    counts = {int(pk): n for pk, n in smtp.delivery_counts().items()}
    assert set(counts) == set(deliveries.values_list("pk", flat=True))
    for pk, arrivals in counts.items():
        times_caught = sum(pk == caught for caught, _ in caught_claims)
        assert arrivals <= 1 + times_caught, f"delivery {pk} arrived {arrivals} times, caught mid-send {times_caught}"
    assert sum(counts.values()) - total <= len(kills_at) * in_doubt_per_kill
    assert not deliveries.exclude(attempts__outcome=DeliveryAttempt.Outcome.DELIVERED).exists()


def _pool_processes(worker: ManagedProcess) -> list[int]:
    """The worker's prefork pool processes: its children, from /proc."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone while we looked
        if int(fields[1]) == worker.process.pid:
            children.append(int(stat.parent.name))
    return sorted(children)


def test_pool_process_killed_mid_batch_has_its_task_requeued_and_doubles_at_most_one(processes, smtp_stub, api_client):
    """SIGKILL one pool process: the worker survives and, with acks_late and
    reject_on_worker_lost, puts the dead process's task straight back on the queue.

    The sweeper starts only afterwards, so every send before it comes from the requeued
    task; it is needed just for the deliveries the dead process had claimed: at most
    CLARION_SEND_CONCURRENCY, as its task claims only as many as it has calls in flight
    (see the test above), and each of them can arrive twice at most.
    """
    total = 200
    category = factories.category_with_templates(slug="monthly_report", channels=("email",))
    users = factories.UserFactory.create_batch(total)
    smtp = smtp_stub(SmtpBehaviour(delay_seconds=0.02))
    env = {**smtp.env(), "CLARION_CHUNK_SIZE": "100"}
    worker = processes.worker(env=env, concurrency=2)

    response = api_client.post(
        "/api/v1/notifications",
        {"category": category.slug, "recipients": [user.username for user in users], "data": {"name": "Ada"}},
        format="json",
    )

    assert response.status_code == 202, response.content
    deliveries = Delivery.objects.filter(notification_id__in=[n["id"] for n in response.json()["notifications"]])
    # Both send chunks of 100 under way, one per pool process, so whichever dies holds a task.
    wait_for(lambda: len(SEND_RECEIVED.findall(worker.log())) >= 2, timeout=60, message="both send tasks to start")
    wait_for(lambda: len(smtp.messages) >= 30, timeout=60, message="30 emails to arrive")
    victim, _ = _pool_processes(worker)
    os.kill(victim, signal.SIGKILL)

    worker.wait_for_log("WorkerLostError")
    wait_for(lambda: len(SEND_DONE.findall(worker.log())) >= 2, timeout=60, message="both send tasks to finish")
    stuck = set(deliveries.filter(status=Delivery.Status.SENDING).values_list("pk", flat=True))
    assert len(stuck) <= settings.CLARION_SEND_CONCURRENCY
    assert deliveries.filter(status=Delivery.Status.SENT).count() == total - len(stuck)

    processes.beat(env=env)
    wait_for(lambda: _statuses(deliveries) == {Delivery.Status.SENT: total}, timeout=60, message="all to be sent")
    worker.stop()

    counts = {int(pk): n for pk, n in smtp.delivery_counts().items()}
    assert set(counts) == set(deliveries.values_list("pk", flat=True))
    assert {pk for pk, n in counts.items() if n > 1} <= stuck
    assert max(counts.values()) <= 2


def test_provider_outage_storm_ends_with_every_email_sent_once_and_every_deferral_recorded(
    processes, smtp_stub, api_client
):
    total, deferrals = 20, 50
    category = factories.category_with_templates(slug="order_shipped", channels=("email",))
    users = factories.UserFactory.create_batch(total)
    smtp = smtp_stub(SmtpBehaviour(defer_data_times=deferrals))
    # Enough attempts that no delivery exhausts the provider while the storm lasts: this
    # test is about retries converging, not about giving up.
    env = {**smtp.env(), "CLARION_MAX_ATTEMPTS_PER_PROVIDER": "15"}
    worker = processes.worker(env=env)
    processes.beat(env=env)

    response = api_client.post(
        "/api/v1/notifications",
        {"category": category.slug, "recipients": [user.username for user in users], "data": {"name": "Ada"}},
        format="json",
    )

    assert response.status_code == 202, response.content
    deliveries = Delivery.objects.filter(notification_id__in=[n["id"] for n in response.json()["notifications"]])
    wait_for(lambda: _statuses(deliveries) == {Delivery.Status.SENT: total}, timeout=60, message="all to be sent")
    worker.stop()

    assert smtp.handler.behaviour.defer_data_times == 0, "the storm did not play out"
    assert smtp.delivery_counts() == {str(pk): 1 for pk in deliveries.values_list("pk", flat=True)}
    attempts = DeliveryAttempt.objects.filter(delivery__in=deliveries)
    assert attempts.filter(outcome=DeliveryAttempt.Outcome.RETRYABLE, error_code="smtp_451").count() == deferrals
    assert attempts.filter(outcome=DeliveryAttempt.Outcome.DELIVERED).count() == total
    assert attempts.count() == deferrals + total


def _queued_deliveries(count: int) -> list[int]:
    """Deliveries planned and routed in this process: queued, with no task published."""
    category = factories.category_with_templates(slug="new_follower", channels=("email",))
    request = NotificationRequest.objects.create(api_key=ApiKey.objects.get(), body_hash="")
    notifications = Notification.objects.bulk_create(
        Notification(request=request, category=category, recipient=user)
        for user in factories.UserFactory.create_batch(count)
    )
    ids = [n.pk for n in notifications]
    notifications_plan(ids)
    return sorted(pk for queue_ids in deliveries_route(ids).to_send.values() for pk in queue_ids)


def _publish_send(delivery_ids: list[int]) -> str:
    task_id = str(uuid.uuid4())
    celery_app.send_task(SEND_TASK, args=[delivery_ids], queue="email", task_id=task_id)
    return task_id


def _wait_for_tasks(worker: ManagedProcess, task_ids: list[str]) -> None:
    for task_id in task_ids:
        worker.wait_for_log(f"{SEND_TASK}[{task_id}] succeeded")


def test_send_tasks_delivered_twice_send_each_email_once(processes, smtp_server, api_key):
    """Copies of one send task (a redelivery racing the original, or arriving after it)."""
    delivery_ids = _queued_deliveries(20)
    assert len(delivery_ids) == 20
    worker = processes.worker(env=smtp_server.env(), concurrency=2)

    racing = [_publish_send(delivery_ids) for _ in range(4)]
    _wait_for_tasks(worker, racing)

    assert Delivery.objects.filter(pk__in=delivery_ids, status=Delivery.Status.SENT).count() == len(delivery_ids)
    assert smtp_server.delivery_counts() == {str(pk): 1 for pk in delivery_ids}

    late = [_publish_send(delivery_ids), _publish_send(delivery_ids[:1])]
    _wait_for_tasks(worker, late)

    assert smtp_server.delivery_counts() == {str(pk): 1 for pk in delivery_ids}
    assert DeliveryAttempt.objects.filter(delivery_id__in=delivery_ids).count() == len(delivery_ids)
