"""The pages that carry the bell: every page's header for a signed-in user, and the demo."""

from __future__ import annotations

import pytest
from django.test import Client

from notifications.inbox_tokens import inbox_token_authenticate
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada_browser() -> Client:
    client = Client()
    client.force_login(factories.UserFactory(username="ada"))
    return client


@pytest.mark.parametrize("path", ["/", "/preferences/"])
def test_signed_in_pages_carry_the_bell_with_its_script_and_csrf_token(ada_browser, path):
    page = ada_browser.get(path).content.decode()

    assert '<clarion-bell data-csrf-token="' in page
    assert '<script src="/static/clarion/bell.js" defer></script>' in page


def test_visitors_get_no_bell():
    page = Client().get("/").content.decode()

    assert "clarion-bell" not in page and "bell.js" not in page


def test_the_demo_page_embeds_a_token_bell_for_the_signed_in_user(ada_browser):
    response = ada_browser.get("/demo/inbox/")

    assert response.status_code == 200
    token = response.context["token"].token
    assert f'<clarion-bell data-token="{token}"' in response.content.decode()
    assert inbox_token_authenticate(token).username == "ada"


def test_the_demo_page_asks_visitors_to_sign_in():
    response = Client().get("/demo/inbox/")

    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


@pytest.mark.parametrize("name", ["bell.js", "bell.css"])
def test_the_bell_is_served_as_a_static_file(client, name):
    response = client.get(f"/static/clarion/{name}")

    assert response.status_code == 200
    assert b"clarion-bell" in b"".join(response.streaming_content)
