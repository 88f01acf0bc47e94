"""The bell in headless Chromium against real processes: the badge goes up when the app
POSTs, clicking an item marks it read, and another open tab follows."""

from __future__ import annotations

import json

import pytest
import requests
from django.conf import settings
from django.test import Client

from notifications.models import InboxItem
from tests import factories
from tests.support.processes import wait_for

pytestmark = pytest.mark.e2e

WAIT_MS = 30_000  # a bound on waiting for the pipeline, not an expectation of speed


@pytest.fixture
def clarion(processes):
    """Ada, an in-app category, an app's API key, a worker and the web server."""
    category = factories.category_with_templates(channels=("in_app",))
    ada = factories.UserFactory(username="ada")
    key = factories.api_key()
    processes.worker()
    _, base_url = processes.web()
    return base_url, key, category.slug, ada


@pytest.fixture
def signed_in(browser, clarion):
    """A browser context signed in as ada, collecting any script error of its pages."""
    base_url, _, _, ada = clarion
    client = Client()
    client.force_login(ada)
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
    yield context, errors
    context.close()
    assert errors == []


def open_live(context, url: str, bell: str = "header clarion-bell"):
    from playwright.sync_api import expect

    page = context.new_page()
    page.goto(url)
    # Live means the socket said hello: from then on every push reaches the page.
    expect(page.locator(bell)).to_have_attribute("data-status", "live", timeout=WAIT_MS)
    return page


def post_in_app(base_url: str, key: str, category: str, name: str) -> None:
    response = requests.post(
        f"{base_url}/api/v1/notifications",
        json={"category": category, "recipients": ["ada"], "data": {"name": name}},
        headers={"Authorization": f"Api-Key {key}"},
        timeout=10,
    )
    assert response.status_code == 202, response.text


def test_badge_rises_on_post_and_reading_an_item_drops_the_count_in_another_tab(clarion, signed_in):
    from playwright.sync_api import expect

    base_url, key, category, _ = clarion
    context, _ = signed_in
    settings_tab = open_live(context, f"{base_url}/preferences/")
    home_tab = open_live(context, f"{base_url}/")
    badge, other_badge = (tab.locator("header .clarion-bell__badge") for tab in (settings_tab, home_tab))
    expect(badge).to_be_hidden()

    post_in_app(base_url, key, category, "Ada")

    expect(badge).to_have_text("1", timeout=WAIT_MS)
    expect(other_badge).to_have_text("1", timeout=WAIT_MS)
    settings_tab.locator("header .clarion-bell__button").click()
    entry = settings_tab.locator("header .clarion-bell__item", has_text="Hello Ada")
    expect(entry).to_have_class("clarion-bell__item clarion-bell__item--unread", timeout=WAIT_MS)
    entry.locator(".clarion-bell__open").click()

    expect(entry).to_have_class("clarion-bell__item", timeout=WAIT_MS)
    expect(badge).to_be_hidden(timeout=WAIT_MS)
    expect(home_tab.locator("header clarion-bell")).to_have_attribute("data-unread", "0", timeout=WAIT_MS)
    expect(other_badge).to_be_hidden()
    item = InboxItem.objects.get()
    assert item.read_at is not None and item.seen_at is not None


def test_the_demo_pages_token_bell_is_live_and_mark_all_read_reaches_the_session_bell(clarion, signed_in):
    from playwright.sync_api import expect

    base_url, key, category, _ = clarion
    context, _ = signed_in
    page = open_live(context, f"{base_url}/demo/inbox/", bell="#demo-bell clarion-bell")
    expect(page.locator("header clarion-bell")).to_have_attribute("data-status", "live", timeout=WAIT_MS)
    token_bell, session_bell = page.locator("#demo-bell clarion-bell"), page.locator("header clarion-bell")

    for name in ("Ada", "Bob"):
        post_in_app(base_url, key, category, name)

    expect(token_bell.locator(".clarion-bell__badge")).to_have_text("2", timeout=WAIT_MS)
    expect(session_bell.locator(".clarion-bell__badge")).to_have_text("2", timeout=WAIT_MS)
    token_bell.locator(".clarion-bell__button").click()
    expect(token_bell.locator(".clarion-bell__item")).to_have_count(2, timeout=WAIT_MS)
    token_bell.locator(".clarion-bell__mark-all").click()

    expect(token_bell.locator(".clarion-bell__badge")).to_be_hidden(timeout=WAIT_MS)
    expect(session_bell).to_have_attribute("data-unread", "0", timeout=WAIT_MS)
    expect(token_bell.locator(".clarion-bell__item--unread")).to_have_count(0)
    wait_for(lambda: not InboxItem.objects.filter(read_at__isnull=True).exists(), timeout=10, message="both items read")


def test_a_tab_reconnects_after_a_server_restart_and_catches_up_on_what_it_missed(processes, clarion, signed_in):
    from playwright.sync_api import expect

    base_url, key, category, _ = clarion
    context, _ = signed_in
    [tabs_server] = [process for process in processes.started if process.name.startswith("web")]
    _, api_url = processes.web()  # the app keeps posting through another server
    sockets: list[str] = []
    caught_up: list[dict] = []

    def watch(socket) -> None:
        sockets.append(socket.url)
        socket.on("framereceived", lambda frame: caught_up.append(json.loads(frame)) if "catch_up" in frame else None)

    context.on("page", lambda page: page.on("websocket", watch))
    page = open_live(context, f"{base_url}/")
    bell = page.locator("header clarion-bell")
    bell.locator(".clarion-bell__button").click()
    expect(bell.locator(".clarion-bell__empty")).to_be_visible(timeout=WAIT_MS)

    tabs_server.stop()
    expect(bell).to_have_attribute("data-status", "offline", timeout=WAIT_MS)
    for name in ("Ada", "Bob"):
        post_in_app(api_url, key, category, name)
    wait_for(lambda: InboxItem.objects.count() == 2, timeout=30, message="both items to be stored")
    processes.web(port=int(base_url.rsplit(":", 1)[1]))

    # Back-off retries reach the new server; `after` brings both items without a reload.
    expect(bell).to_have_attribute("data-status", "live", timeout=60_000)
    expect(bell.locator(".clarion-bell__badge")).to_have_text("2", timeout=WAIT_MS)
    expect(bell.locator(".clarion-bell__item")).to_have_count(2, timeout=WAIT_MS)
    assert sockets[0].endswith("/ws/notifications/") and sockets[-1].endswith("/ws/notifications/?after=0")
    assert sorted(message["item"]["title"] for message in caught_up) == ["Hello Ada", "Hello Bob"]
    assert [message["item"]["id"] for message in caught_up] == sorted(message["item"]["id"] for message in caught_up)
