"""The staff dashboard in headless Chromium against real processes: after sends through the
pipeline its charts draw them, and it swaps in fresh charts by itself, without a reload."""

from __future__ import annotations

import pytest
import requests
from django.conf import settings
from django.test import Client

from delivery.models import Delivery
from tests import factories
from tests.support.processes import wait_for

pytestmark = pytest.mark.e2e

WAIT_MS = 30_000  # a bound on waiting for the pipeline and a refresh, not an expectation of speed
SENT = (Delivery.Status.SENT, Delivery.Status.DELIVERED)
# Every chain the development outbox, whatever .env says: the breakers chart lists outbox and inbox.
OUTBOX = {"CLARION_EMAIL_PROVIDERS": "outbox", "CLARION_SMS_PROVIDERS": "outbox", "CLARION_PUSH_PROVIDERS": "outbox"}

# The sum of a series' points in the volume chart, as the page shows it now.
VOLUME_OF = """series => [...document.querySelectorAll(`#chart-volume circle.point[data-series="${series}"]`)]
    .reduce((sum, point) => sum + Number(point.dataset.value), 0)"""


@pytest.fixture
def clarion(processes):
    """Ada, an email and in-app category, an app's API key, a worker and the web server."""
    category = factories.category_with_templates(channels=("email", "in_app"))
    factories.UserFactory(username="ada")
    key = factories.api_key()
    processes.worker(env=OUTBOX)
    # Refreshes every 2 s rather than 10: the tests wait for one.
    _, base_url = processes.web(env={**OUTBOX, "CLARION_DASHBOARD_REFRESH_SECONDS": "2"})
    return base_url, key, category.slug


@pytest.fixture
def staff_context(browser, clarion):
    """A browser context signed in as a staff member, collecting any script error of its pages."""
    base_url, _, _ = clarion
    client = Client()
    client.force_login(factories.UserFactory(username="operator", is_staff=True))
    context = browser.new_context()
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": base_url,
            }
        ]
    )
    errors: list[str] = []
    context.on("page", lambda page: page.on("pageerror", lambda error: errors.append(str(error))))
    yield context
    context.close()
    assert errors == []


def send(base_url: str, key: str, category: str, count: int) -> None:
    """Post `count` notifications for ada and wait until the worker has sent both channels of each."""
    before = Delivery.objects.filter(status__in=SENT).count()
    for n in range(count):
        response = requests.post(
            f"{base_url}/api/v1/notifications",
            json={"category": category, "recipients": ["ada"], "data": {"name": f"Ada {n}"}},
            headers={"Authorization": f"Api-Key {key}"},
            timeout=10,
        )
        assert response.status_code == 202, response.text
    wait_for(
        lambda: Delivery.objects.filter(status__in=SENT).count() == before + 2 * count,
        timeout=30,
        message=f"{2 * count} deliveries to be sent",
    )


def test_the_dashboard_charts_real_sends_and_refreshes_them_in_place(clarion, staff_context):
    from playwright.sync_api import expect

    base_url, key, category = clarion
    send(base_url, key, category, 3)

    page = staff_context.new_page()
    page.goto(f"{base_url}/dashboard/")

    volume = page.locator("#chart-volume")
    expect(volume).to_be_visible()
    assert volume.bounding_box()["height"] > 50
    assert page.evaluate(VOLUME_OF, "Email") == 3
    assert page.evaluate(VOLUME_OF, "In-app") == 3
    lines = volume.locator("path.series")
    expect(lines).to_have_count(4)
    assert "L" in lines.first.get_attribute("d")
    success = page.locator("#chart-success rect.bar")
    expect(success).to_have_count(2)  # outbox for email, inbox for in-app
    assert [success.nth(i).get_attribute("data-value") for i in range(2)] == ["100.0", "100.0"]
    assert success.first.bounding_box()["width"] > 0
    expect(page.locator("#chart-latency rect.bar")).to_have_count(6)  # p50 and p95: email, in-app, all
    expect(page.locator("#chart-breakers rect.bar[data-value='100']")).to_have_count(2)
    expect(page.locator("#chart-queues rect.bar")).to_have_count(9)  # Redis answered for every queue and the intake
    expect(page.locator("#dead-letters-total")).to_have_text("0 failed")
    generated = page.locator("[data-generated-at]").get_attribute("data-generated-at")

    page.evaluate("window.notReloaded = true")
    send(base_url, key, category, 1)
    factories.DeliveryFactory(channel="sms", status=Delivery.Status.FAILED)

    expect(page.locator("#dead-letters-total")).to_have_text("1 failed", timeout=WAIT_MS)
    page.wait_for_function(f"({VOLUME_OF})('Email') === 4", timeout=WAIT_MS)
    assert page.evaluate("window.notReloaded") is True  # swapped in place, not reloaded
    assert int(page.locator("#dashboard-charts").get_attribute("data-refreshes")) >= 1
    assert page.locator("[data-generated-at]").get_attribute("data-generated-at") != generated
    expect(page.locator("#dashboard-status")).to_contain_text("Updated")
    expect(page.locator("#chart-dead-letters rect.bar[data-value='1']")).to_have_count(1)


def test_the_day_window_keeps_its_choice_across_refreshes(clarion, staff_context):
    from playwright.sync_api import expect

    base_url, key, category = clarion
    send(base_url, key, category, 1)
    page = staff_context.new_page()
    page.goto(f"{base_url}/dashboard/")

    page.get_by_role("link", name="Last 24 hours, by hour").click()

    expect(page.locator("#chart-volume-title")).to_have_text("Sends per channel (Last 24 hours, by hour, UTC)")
    expect(page.locator("#chart-volume circle.point[data-series='Email']")).to_have_count(24)
    expect(page.locator("#dashboard-status")).to_contain_text("Updated", timeout=WAIT_MS)
    # The refreshed charts are still the day's 24 hours, not the default hour's 60 minutes.
    expect(page.locator("#chart-volume circle.point[data-series='Email']")).to_have_count(24)
    assert page.evaluate(VOLUME_OF, "Email") == 1
