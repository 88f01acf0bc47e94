"""Plain pages for people: the home page, and a demo of the bell as an app would embed it."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from notifications.inbox_tokens import inbox_token_create


def home_page(request: HttpRequest) -> HttpResponse:
    # The signed-in user's feed is the bell in the page header (base.html).
    return render(request, "home.html")


@login_required
@require_safe
def inbox_demo_page(request: HttpRequest) -> HttpResponse:
    """The bell in token mode, with a token minted here the way an app's backend would mint
    it through `POST /api/v1/users/{id}/inbox-token`."""
    token = inbox_token_create(request.user)
    return render(request, "demo/inbox.html", {"token": token})
