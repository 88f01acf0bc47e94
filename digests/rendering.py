"""Rendering a digest: the category's digest template (or a plain default) filled with the
count and the first few items, each titled by the category's own template."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError

from digests.models import DigestTemplate
from notifications.models import Category, Template
from notifications.rendering import RenderError, build_context, render_message
from notifications.rendering.render import REQUIRED_FIELDS

DEFAULT_LOCALE = "en"
ITEMS_SHOWN = 10

_HEADLINE = "{{ count }} new {{ category.name }} notification{{ count|pluralize }}"
_LIST = "{% for item in items %}- {{ item.title }}\n{% endfor %}{% if more %}…and {{ more }} more{% endif %}"
# Used where the admin has written no digest template for the category and channel.
DEFAULT_TEMPLATES: dict[str, dict[str, str]] = {
    "email": {"subject": _HEADLINE, "body": _LIST},
    "sms": {"body": _HEADLINE + "{% if items %}: {{ items.0.title }}{% endif %}"},
    "push": {"title": _HEADLINE, "body": "{{ items.0.title }}{% if count > 1 %} and more{% endif %}"},
}
# Which part of a category's ordinary message titles an item in its digest.
_TITLE_PARTS = ("subject", "title", "body")


def _pick(candidates: dict[str, Any], locale: str) -> Any:
    for candidate in (locale, locale.split("-", maxsplit=1)[0], DEFAULT_LOCALE):
        if candidate in candidates:
            return candidates[candidate]
    return None


def digest_template_for(category: Category, channel: str, locale: str) -> DigestTemplate:
    """The admin's template for this category, channel and locale, or the default."""
    templates = {t.locale: t for t in DigestTemplate.objects.filter(category=category, channel=channel)}
    return _pick(templates, locale) or DigestTemplate(category=category, channel=channel, **DEFAULT_TEMPLATES[channel])


def item_titles(
    category: Category, channel: str, locale: str, datas: Sequence[dict[str, Any]], recipient: dict[str, str]
) -> list[str]:
    """Each item's title: its own message's subject, title or text, as it would have been sent."""
    templates = {t.locale: t for t in Template.objects.filter(category=category, channel=channel)}
    template = _pick(templates, locale)
    titles = []
    for data in datas:
        try:
            parts = render_message(template, build_context(data, recipient)).parts if template else {}
        except RenderError:
            parts = {}
        titles.append(next((parts[name] for name in _TITLE_PARTS if parts.get(name)), ""))
    return titles


def digest_context(
    category: Category, count: int, items: Sequence[dict[str, Any]], recipient: dict[str, str]
) -> dict[str, Any]:
    shown = list(items[:ITEMS_SHOWN])
    return {
        "count": count,
        "items": shown,
        "more": max(0, count - len(shown)),
        "category": {"slug": category.slug, "name": category.name},
        "recipient": recipient,
    }


def digest_render(template: DigestTemplate, context: dict[str, Any]) -> dict[str, str]:
    """The rendered parts; raises RenderError."""
    return render_message(template, context).parts


def digest_template_validate(template: DigestTemplate) -> None:
    """Compile and render every used field with three items of the category's sample data."""
    if template.channel not in DEFAULT_TEMPLATES:
        return  # not a digest channel: the field's choices refuse it
    errors = {
        name: f"A {template.channel} digest needs a {name}."
        for name in REQUIRED_FIELDS.get(template.channel, ())
        if not getattr(template, name).strip()
    }
    if errors:
        raise ValidationError(errors)
    sample = template.category.sample_data if template.category_id else {}
    recipient = {"name": "Sample User", "username": "sample", "email": "sample@example.com"}
    items = [{"title": "Sample message", "data": sample, "created_at": ""}] * 3
    category = template.category if template.category_id else Category(slug="sample", name="Sample")
    try:
        digest_render(template, digest_context(category, 12, items, recipient))
    except RenderError as error:
        raise ValidationError({error.field: error.message}) from error
