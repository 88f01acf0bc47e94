"""/dashboard/: staff only, every chart drawn, a fragment for the refresh, and a page even
when Redis is down."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from delivery.models import Delivery, ProviderHealth
from monitoring.dashboard import FRAGMENT_HEADER
from scripts.embedded_redis import free_port
from tests import factories

pytestmark = pytest.mark.django_db

CHARTS = (
    "chart-volume",
    "chart-success",
    "chart-latency",
    "chart-queues",
    "chart-backlog",
    "chart-dead-letters",
    "chart-breakers",
)


@pytest.fixture
def staff_client() -> Client:
    client = Client()
    client.force_login(factories.UserFactory(username="operator", is_staff=True))
    return client


def some_traffic() -> None:
    now = timezone.now()
    for channel in ("email", "sms", "in_app"):
        delivery = factories.DeliveryFactory(channel=channel, status=Delivery.Status.SENT, provider="outbox")
        Delivery.objects.filter(pk=delivery.pk).update(sent_at=now, updated_at=now)
        factories.DeliveryAttemptFactory(delivery=delivery, provider="outbox")
    factories.DeliveryFactory(status=Delivery.Status.FAILED)


def test_signed_out_visitors_are_sent_to_the_admin_sign_in():
    response = Client().get("/dashboard/?window=24h")

    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/dashboard/%3Fwindow%3D24h"


def test_signed_in_users_who_are_not_staff_are_refused():
    client = Client()
    client.force_login(factories.UserFactory(username="ada"))

    assert client.get("/dashboard/").status_code == 403
    assert client.get("/dashboard/?fragment=1").status_code == 403


def test_staff_see_every_chart_with_a_script_refresh_and_a_noscript_fallback(staff_client):
    some_traffic()

    response = staff_client.get("/dashboard/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]
    for chart in CHARTS:
        assert f'id="{chart}"' in html
    assert '<noscript><meta http-equiv="refresh" content="10"></noscript>' in html
    assert "monitoring/dashboard.js" in html
    assert 'id="dashboard-charts" data-refresh-seconds="10"' in html
    assert 'class="point" data-series="Email" data-value="1"' in html
    assert 'id="dead-letters-total" href="/admin/delivery/delivery/?dead_letter=yes">1 failed</a>' in html


def test_the_fragment_is_just_the_charts_marked_for_the_script(staff_client):
    some_traffic()

    response = staff_client.get("/dashboard/?fragment=1")

    html = response.content.decode()
    assert response[FRAGMENT_HEADER] == "1"
    assert "<html" not in html
    assert "dashboard.js" not in html
    assert all(f'id="{chart}"' in html for chart in CHARTS)


def test_the_window_is_chosen_by_query_and_unknown_ones_fall_back_to_the_last_hour(staff_client):
    day = staff_client.get("/dashboard/?window=24h").content.decode()
    unknown = staff_client.get("/dashboard/?window=%3Cb%3E").content.decode()

    assert '<strong aria-current="page">Last 24 hours, by hour</strong>' in day
    assert "Sends per channel (Last 24 hours, by hour, UTC)" in day
    assert '<strong aria-current="page">Last hour, by minute</strong>' in unknown
    assert "<b>" not in unknown


def test_only_reads_are_allowed(staff_client):
    assert staff_client.post("/dashboard/").status_code == 405


def test_the_page_renders_from_the_database_while_redis_is_down(staff_client):
    some_traffic()
    ProviderHealth.objects.create(provider="outbox", state="open", weight=0, changed_at=timezone.now())

    with override_settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"):
        response = staff_client.get("/dashboard/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Redis cannot be reached" in html
    assert "email: n/a" in html  # the email queue's depth in the chart's description
    assert "outbox: open" in html


def test_the_number_of_queries_does_not_grow_with_the_traffic(staff_client):
    some_traffic()
    with CaptureQueriesContext(connection) as few:
        staff_client.get("/dashboard/")
    for _ in range(10):
        some_traffic()
    earlier = timezone.now() - timedelta(minutes=10)
    Delivery.objects.filter(status=Delivery.Status.SENT).update(sent_at=earlier, updated_at=earlier)

    with CaptureQueriesContext(connection) as many:
        response = staff_client.get("/dashboard/")

    assert response.status_code == 200
    assert len(many) == len(few)


def test_the_admin_index_links_to_the_dashboard():
    client = Client()
    client.force_login(factories.UserFactory(username="root", is_staff=True, is_superuser=True))

    html = client.get("/admin/").content.decode()

    assert '<a href="/dashboard/">Dashboard</a>' in html
    assert "app-delivery" in html  # the apps are still listed below it
