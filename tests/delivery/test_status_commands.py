"""`clarion_status` and `clarion_send`."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from delivery.models import Delivery
from delivery.status import pipeline_status, queue_depths
from notifications.models import Notification
from tests import factories


def test_queue_depths_count_every_priority_list_of_a_queue(redis_client):
    redis_client.delete("sms", "sms\x06\x163")
    redis_client.lpush("sms", "a", "b")
    redis_client.lpush("sms\x06\x163", "c")
    try:
        assert queue_depths(redis_client)["sms"] == 3
    finally:
        redis_client.delete("sms", "sms\x06\x163")


@pytest.mark.django_db
def test_status_counts_backlog_and_dead_letters():
    factories.DeliveryFactory(status=Delivery.Status.FAILED)
    factories.DeliveryFactory(status=Delivery.Status.SCHEDULED)
    status = pipeline_status()
    assert (status.dead_letters, status.scheduled_backlog) == (1, 1)
    out = StringIO()
    call_command("clarion_status", stdout=out)
    assert "dead letters (failed)" in out.getvalue()


@pytest.mark.django_db
def test_clarion_send_accepts_a_notification_for_each_recipient(django_capture_on_commit_callbacks):
    factories.category_with_templates(slug="order_shipped")
    factories.UserFactory(username="ada")
    factories.UserFactory(username="bob")
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=False):
        call_command("clarion_send", "--category", "order_shipped", "--to", "ada", "--to", "bob", stdout=out)
    assert Notification.objects.count() == 2
    assert out.getvalue().count("accepted") == 2


@pytest.mark.django_db
def test_clarion_send_reports_bad_input_without_a_traceback():
    factories.UserFactory(username="ada")
    with pytest.raises(CommandError, match="No enabled category"):
        call_command("clarion_send", "--category", "nope", "--to", "ada")
    with pytest.raises(CommandError, match="not JSON"):
        call_command("clarion_send", "--category", "nope", "--to", "ada", "--data", "{")
