"""The intake (delivery/intake.py) against the real Redis: one drain at a time, and no id
left behind by a push that races a drain's end; then small requests through real worker
processes, planned together and each delivered once."""

from __future__ import annotations

import pytest

from delivery.intake import DRAINING_KEY, INTAKE_KEY, intake_abandon, intake_finish, intake_push, intake_take
from delivery.models import Delivery
from delivery.status import queue_depths
from tests import factories
from tests.support.processes import wait_for


@pytest.fixture
def intake(redis_client):
    redis_client.delete(INTAKE_KEY, DRAINING_KEY)
    yield redis_client
    redis_client.delete(INTAKE_KEY, DRAINING_KEY)


def test_only_the_first_push_starts_a_drain_and_takes_come_oldest_first(intake):
    assert intake_push(intake, ["a", "b"]) is True
    assert intake_push(intake, ["c"]) is False

    assert queue_depths(intake)["intake"] == 3
    assert intake_take(intake, 2) == ["a", "b"]
    assert intake_take(intake, 2) == ["c"]
    assert intake_take(intake, 2) == []


def test_a_drain_that_finds_the_intake_empty_ends_and_the_next_push_starts_another(intake):
    intake_push(intake, ["a"])
    intake_take(intake, 10)

    assert intake_finish(intake) is False
    assert intake_push(intake, ["b"]) is True


def test_a_push_after_the_last_take_is_not_left_behind(intake):
    """The push saw the drain's flag and started none: the ending drain goes on instead."""
    intake_push(intake, ["a"])
    intake_take(intake, 10)
    assert intake_push(intake, ["late"]) is False

    assert intake_finish(intake) is True
    assert intake_take(intake, 10) == ["late"]


def test_a_drain_that_could_not_start_does_not_hold_up_the_next_push(intake):
    assert intake_push(intake, ["a"]) is True
    intake_abandon(intake)

    assert intake_push(intake, ["b"]) is True


def test_the_drain_flag_lapses_when_no_drain_renews_it(intake):
    intake_push(intake, ["a"])

    assert 0 < intake.ttl(DRAINING_KEY) <= 30


def test_single_recipient_requests_are_planned_together_and_each_delivered_once(processes, api_client, intake):
    category = factories.category_with_templates(slug="comment_reply", channels=("email",))
    users = [factories.UserFactory(username=f"user{n}", email=f"user{n}@example.com") for n in range(30)]
    env = {"CLARION_EMAIL_PROVIDERS": "outbox"}
    # Requests accepted before any worker runs wait in the intake, as under load.
    for user in users:
        response = api_client.post(
            "/api/v1/notifications", {"category": category.slug, "recipients": [user.username]}, format="json"
        )
        assert response.status_code == 202
    assert queue_depths(intake)["intake"] == 30

    worker = processes.worker(env=env)

    wait_for(lambda: Delivery.objects.filter(status=Delivery.Status.SENT).count() == 30, timeout=60)
    assert Delivery.objects.count() == 30
    assert queue_depths(intake)["intake"] == 0
    # Thirty requests, one drain: one chunk planned, one send task for its thirty emails.
    assert worker.log().count("delivery.tasks.intake_drain_task[") == 2  # received, succeeded
    assert worker.log().count("delivery.tasks.delivery_send_task[") == 2


def test_a_request_publishes_its_whole_chunks_and_gathers_only_the_rest(intake, settings):
    from delivery.tasks import pipeline_start

    settings.CLARION_CHUNK_SIZE = 100
    ids = [f"00000000-0000-0000-0000-{n:012d}" for n in range(250)]
    before = queue_depths(intake)

    pipeline_start(ids, critical=False, gather=True)
    pipeline_start(ids[:30], critical=True, gather=True)

    after = queue_depths(intake)
    assert after["intake"] - before["intake"] == 50
    # Two whole chunks and the drain for the rest; the critical request is not gathered.
    assert after["pipeline"] - before["pipeline"] == 3
    assert after["critical"] - before["critical"] == 1
    assert intake_take(intake, 100) == ids[200:]


def test_a_drain_that_fails_lets_go_of_its_flag(intake, monkeypatch):
    """The next push starts a new drain at once, instead of waiting out the flag's TTL."""
    from delivery import tasks

    def planning_fails(notification_ids):
        raise ConnectionError("PostgreSQL is restarting")

    monkeypatch.setattr(tasks, "_plan_publish_and_send", planning_fails)
    intake_push(intake, ["a"])

    with pytest.raises(ConnectionError):
        tasks.intake_drain_task.run()
    assert intake_push(intake, ["b"]) is True
