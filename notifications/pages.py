"""Plain pages for people: the home page with the in-app feed of the signed-in user."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from notifications.models import InboxItem


def home_page(request: HttpRequest) -> HttpResponse:
    items = []
    if request.user.is_authenticated:
        items = list(InboxItem.objects.filter(user=request.user).select_related("category")[:20])
    return render(request, "home.html", {"items": items})
