"""The planning task sends in-app deliveries itself (delivery/tasks.py, SENT_BY_PLANNER) and
publishes every other send to its queue; critical ones all go to the critical queue."""

from __future__ import annotations

import pytest

from delivery import tasks
from delivery.models import Delivery
from delivery.providers.inbox import InboxProvider
from notifications.models import InboxItem
from tests import factories

pytestmark = pytest.mark.usefixtures("outbox_chains")


@pytest.fixture
def published(monkeypatch):
    """The sends the task publishes, as (queue, delivery ids): no worker is running here."""
    sends: list[tuple[str, list[int]]] = []
    monkeypatch.setattr(
        tasks.delivery_send_task, "apply_async", lambda args, queue, **options: sends.append((queue, args[0]))
    )
    return sends


def _notification(priority: str = "normal"):
    category = factories.category_with_templates(slug="comment_reply", channels=("email", "sms", "in_app"))
    user = factories.UserFactory(username="ada", email="ada@example.com")
    factories.NotificationSettingsFactory(user=user, phone_number="+15555550100")
    return factories.NotificationFactory(category=category, recipient=user, priority=priority, data={"name": "Ada"})


@pytest.mark.django_db(transaction=True)
def test_in_app_is_sent_by_the_planning_task_and_the_other_channels_are_published(published):
    notification = _notification()

    tasks.notification_pipeline_task([str(notification.pk)])

    deliveries = {d.channel: d for d in Delivery.objects.filter(notification=notification)}
    assert deliveries["in_app"].status == Delivery.Status.DELIVERED
    assert InboxItem.objects.filter(user=notification.recipient).count() == 1
    assert sorted(published) == [("email", [deliveries["email"].pk]), ("sms", [deliveries["sms"].pk])]
    assert {deliveries[channel].status for channel in ("email", "sms")} == {Delivery.Status.QUEUED}


@pytest.mark.django_db(transaction=True)
def test_critical_in_app_is_published_to_the_critical_queue_with_the_rest(published):
    notification = _notification(priority="high")

    tasks.notification_pipeline_task([str(notification.pk)])

    deliveries = Delivery.objects.filter(notification=notification)
    assert {d.status for d in deliveries} == {Delivery.Status.QUEUED}
    assert [queue for queue, _ in published] == ["critical"]
    assert sorted(published[0][1]) == sorted(d.pk for d in deliveries)


@pytest.mark.django_db(transaction=True)
def test_a_failing_in_app_send_hands_its_chunk_to_the_queue_and_planning_goes_on(published, monkeypatch, caplog):
    def store_down(self, messages):
        raise RuntimeError("the inbox store is down")

    monkeypatch.setattr(InboxProvider, "send_many", store_down)
    notification = _notification()

    tasks.notification_pipeline_task([str(notification.pk)])

    deliveries = {d.channel: d for d in Delivery.objects.filter(notification=notification)}
    assert sorted(published) == [
        ("email", [deliveries["email"].pk]),
        ("in_app", [deliveries["in_app"].pk]),
        ("sms", [deliveries["sms"].pk]),
    ]
    assert "the planning task's in_app sends failed; 1 handed to their queue" in caplog.text
    assert not InboxItem.objects.exists()
    # Claimed before the store failed: its fate is unknown, so the sweeper, not the queue's
    # task, sends it again once CLARION_SENDING_GRACE_SECONDS pass (as after a failed send task).
    assert deliveries["in_app"].status == Delivery.Status.SENDING
