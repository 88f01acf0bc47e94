"""Render and route: give each pending delivery its rendered message and its queue."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.html import format_html

from delivery.models import Delivery, Device
from notifications.channels import Channel
from notifications.models import Category, Template
from notifications.rendering import RenderError, build_context, render_message
from preferences.unsubscribe import UnsubscribeTarget, unsubscribe_url

DEFAULT_LOCALE = "en"


def _pick_template(templates: dict[tuple[int, str, str], Template], category_id: int, channel: str, locale: str):
    for candidate in (locale, locale.split("-", maxsplit=1)[0], DEFAULT_LOCALE):
        template = templates.get((category_id, channel, candidate))
        if template is not None:
            return template
    return None


def channel_address(user: AbstractBaseUser, channel: str, tokens: list[str]) -> str:
    """Where a message on `channel` goes: the email, the phone, the device tokens, or (in-app)
    the user id."""
    if channel == "email":
        return user.email
    if channel == "sms":
        return user.notification_settings.phone_number
    if channel == "push":
        return ",".join(tokens)
    return str(user.pk)


def email_with_unsubscribe_link(content: dict, user_id: int, category: Category) -> dict:
    """Add the one-click unsubscribe link: the email adapters put it in the List-Unsubscribe
    headers, and a footer shows it to readers whose mail client has no unsubscribe button."""
    url = unsubscribe_url(UnsubscribeTarget(user_id, category.slug, Channel.EMAIL.value))
    footer = f"Unsubscribe from {category.name} emails: {url}"
    parts = {"unsubscribe_url": url, "body": f"{content.get('body', '')}\n\n{footer}"}
    html = content.get("html_body", "")
    if html:
        link = format_html('<p><a href="{}">Unsubscribe from {} emails</a></p>', url, category.name)
        end = html.lower().rfind("</body>")
        parts["html_body"] = f"{html[:end]}{link}{html[end:]}" if end >= 0 else f"{html}{link}"
    return {**content, **parts}


@dataclass
class Routes:
    """What the caller publishes after commit: sends by queue, and deferred releases."""

    to_send: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    to_schedule: list[tuple[int, datetime]] = field(default_factory=list)


def deliveries_route(notification_ids: Sequence[UUID | str]) -> Routes:
    """Render every `pending` delivery of these notifications and mark it `queued`, or
    `scheduled` when the policy deferred it (quiet hours, a pause).

    Rows are locked while rendered, so two routers racing over the same notifications
    route each delivery once. (The pipeline's own deliveries are rendered by the planner
    before they are written, delivery/pipeline.py; pending rows come from fallbacks and from
    planners that stopped half-way.)
    """
    now = timezone.now()
    with transaction.atomic():
        deliveries = list(
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(notification_id__in=notification_ids, status=Delivery.Status.PENDING)
            .select_related("notification__category", "notification__recipient__notification_settings")
        )
        if not deliveries:
            return Routes()
        deliveries_render(deliveries, now)
        Delivery.objects.bulk_update(deliveries, ["status", "reason", "content", "updated_at"])
    return routes_of(deliveries)


def deliveries_render(deliveries: Sequence[Delivery], now: datetime) -> None:
    """Give pending deliveries (saved or not) their rendered message and their next status:
    `queued`, `scheduled` (deferred), `skipped` (no template) or `failed` (template error).
    Each delivery's notification must come with its category, recipient and the recipient's
    `notification_settings` loaded; templates and device tokens are read in one query each."""
    category_ids = {d.notification.category_id for d in deliveries}
    templates = {(t.category_id, t.channel, t.locale): t for t in Template.objects.filter(category_id__in=category_ids)}
    push_users = {d.notification.recipient_id for d in deliveries if d.channel == "push"}
    device_tokens: dict[int, list[str]] = defaultdict(list)
    if push_users:
        for user_id, token in Device.objects.filter(user_id__in=push_users, active=True).values_list(
            "user_id", "token"
        ):
            device_tokens[user_id].append(token)
    for delivery in deliveries:
        _render(delivery, templates, device_tokens, now)


def _render(
    delivery: Delivery,
    templates: dict[tuple[int, str, str], Template],
    device_tokens: dict[int, list[str]],
    now: datetime,
) -> None:
    notification = delivery.notification
    user = notification.recipient
    settings = getattr(user, "notification_settings", None)
    locale = settings.locale if settings else DEFAULT_LOCALE
    delivery.updated_at = now
    template = _pick_template(templates, notification.category_id, delivery.channel, locale)
    if template is None:
        delivery.status = Delivery.Status.SKIPPED
        delivery.reason = f"no {delivery.channel} template for {notification.category.slug}"
        return
    recipient = {
        "name": user.get_full_name() or user.get_username(),
        "username": user.get_username(),
        "email": user.email,
    }
    try:
        rendered = render_message(template, build_context(notification.data, recipient))
    except RenderError as error:
        delivery.status = Delivery.Status.FAILED
        delivery.reason = f"template error in {error.field}: {error.message}"[:500]
        return
    tokens = device_tokens.get(user.pk, [])
    delivery.content = {**delivery.content, **rendered.parts, "to": channel_address(user, delivery.channel, tokens)}
    if delivery.channel == "push":
        delivery.content["tokens"] = tokens
    if delivery.channel == Channel.EMAIL and not notification.category.is_required:
        delivery.content = email_with_unsubscribe_link(delivery.content, user.pk, notification.category)
    deferred = delivery.scheduled_for is not None and delivery.scheduled_for > now
    delivery.status = Delivery.Status.SCHEDULED if deferred else Delivery.Status.QUEUED


def routes_of(deliveries: Iterable[Delivery]) -> Routes:
    """What to publish for these saved deliveries: the queued ones' sends, the scheduled
    ones' releases."""
    routes = Routes()
    for delivery in deliveries:
        if delivery.status == Delivery.Status.SCHEDULED and delivery.scheduled_for:
            routes.to_schedule.append((delivery.pk, delivery.scheduled_for))
        elif delivery.status == Delivery.Status.QUEUED:
            routes.to_send[delivery.queue].append(delivery.pk)
    return routes
