"""A dead letter retried from the admin, twice, with a real worker: one more send."""

import pytest
from django.test import Client

from delivery.models import Delivery
from delivery.planning import notifications_plan
from delivery.routing import deliveries_route
from delivery.tasks import deliveries_publish
from tests import factories
from tests.support.processes import wait_for

pytestmark = pytest.mark.e2e


def test_dead_letter_retried_twice_from_the_admin_is_sent_once(processes, smtp_server):
    smtp_server.handler.behaviour.reject_recipients.add("ada@example.com")
    category = factories.category_with_templates(channels=("email",))
    notification = factories.NotificationFactory(category=category, recipient=factories.UserFactory(username="ada"))
    processes.worker(env=smtp_server.env())
    notifications_plan([notification.pk])
    deliveries_publish(deliveries_route([notification.pk]).to_send)
    delivery = wait_for(
        lambda: Delivery.objects.filter(notification=notification, status=Delivery.Status.FAILED).first(),
        timeout=30,
        message="the email to fail permanently",
    )
    assert smtp_server.messages == []

    smtp_server.handler.behaviour.reject_recipients.clear()  # the address was fixed
    staff = Client()
    staff.force_login(factories.UserFactory(username="staff", is_staff=True, is_superuser=True))
    form = {"action": "retry_dead_letters", "_selected_action": [delivery.pk]}
    staff.post("/admin/delivery/delivery/", form)
    staff.post("/admin/delivery/delivery/", form)

    wait_for(
        lambda: Delivery.objects.get(pk=delivery.pk).status == Delivery.Status.SENT,
        timeout=30,
        message="the retried email to be sent",
    )
    assert smtp_server.delivery_counts() == {str(delivery.pk): 1}
    assert Delivery.objects.get(pk=delivery.pk).attempts.count() == 2
