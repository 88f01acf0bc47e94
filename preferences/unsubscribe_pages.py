"""The pages behind an email's unsubscribe link: no sign-in, the signed token is the credential.

GET only shows a confirmation: mail scanners and link previewers fetch links in emails, and
must not unsubscribe anyone. POST turns the one category × channel off; it is both the page's
button and the RFC 8058 one-click request a mail client sends by itself.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from notifications.channels import Channel
from notifications.models import Category
from preferences.services import preferences_update
from preferences.unsubscribe import UnsubscribeLinkError, UnsubscribeTarget, unsubscribe_target
from preferences.validation import SettingsError


class _LinkProblem(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _resolve(token: str) -> tuple[UnsubscribeTarget, AbstractBaseUser, Category]:
    try:
        target = unsubscribe_target(token)
    except UnsubscribeLinkError as error:
        if error.expired:
            raise _LinkProblem("This unsubscribe link has expired.") from error
        raise _LinkProblem("This unsubscribe link is not valid. It may have been cut short or altered.") from error
    user = get_user_model().objects.filter(pk=target.user_id, is_active=True).first()
    category = Category.objects.filter(slug=target.category_slug).first()
    if user is None or category is None or target.channel not in Channel.values:
        raise _LinkProblem("This unsubscribe link is no longer valid.")
    return target, user, category


def _page(request: HttpRequest, state: str, token: str, category: Category, target: UnsubscribeTarget) -> HttpResponse:
    context = {"state": state, "token": token, "category": category, "channel": Channel(target.channel).label}
    return render(request, "unsubscribe/page.html", context)


def _problem(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "unsubscribe/invalid.html", {"message": message}, status=400)


def _required(category: Category) -> str:
    return f"{category.name} messages are required and cannot be turned off."


def _set(request: HttpRequest, token: str, enabled: bool) -> HttpResponse:
    try:
        target, user, category = _resolve(token)
    except _LinkProblem as problem:
        return _problem(request, problem.message)
    try:
        preferences_update(user, {"categories": {category.slug: {target.channel: enabled}}})
    except SettingsError:
        # Only when the category became required after the email was sent.
        return _problem(request, _required(category))
    return _page(request, "subscribed" if enabled else "unsubscribed", token, category, target)


# No CSRF token: mail clients send the one-click POST from no page of ours, with no cookie.
# The signed token in the URL does CSRF protection's job here: a forged request would need
# it, and it only ever changes the one preference it names.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe_page(request: HttpRequest, token: str) -> HttpResponse:
    if request.method == "POST":
        return _set(request, token, enabled=False)
    try:
        target, _, category = _resolve(token)
    except _LinkProblem as problem:
        return _problem(request, problem.message)
    if category.is_required:
        return _problem(request, _required(category))
    return _page(request, "confirm", token, category, target)


@csrf_exempt  # the same reasoning as above: the token is the secret a forged request lacks
@require_POST
def unsubscribe_undo_page(request: HttpRequest, token: str) -> HttpResponse:
    return _set(request, token, enabled=True)
