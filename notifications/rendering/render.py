"""Render templates in a sandboxed engine.

The context holds only plain JSON values (the notification's data and a few recipient
fields), so variable lookups cannot reach model attributes or settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.template import Context, Engine, TemplateSyntaxError

from notifications.channels import Channel

if TYPE_CHECKING:
    from notifications.models import Template

# Which template fields each channel uses, and which of them must not be empty.
CHANNEL_FIELDS: dict[str, tuple[str, ...]] = {
    Channel.EMAIL: ("subject", "body", "html_body"),
    Channel.SMS: ("body",),
    Channel.PUSH: ("title", "body"),
    Channel.IN_APP: ("title", "body", "action_url"),
}
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    Channel.EMAIL: ("subject", "body"),
    Channel.SMS: ("body",),
    Channel.PUSH: ("title",),
    Channel.IN_APP: ("title",),
}
HTML_FIELDS = frozenset({"html_body"})


class SandboxEngine(Engine):
    # Engine always prepends its default builtins (which include `debug`, `include` and
    # `extends`); the sandbox replaces them with its own list.
    default_builtins: list[str] = []


def _engine(autoescape: bool) -> Engine:
    return SandboxEngine(
        dirs=[],
        app_dirs=False,
        loaders=[],
        libraries={},
        builtins=["notifications.rendering.sandbox_library"],
        autoescape=autoescape,
        string_if_invalid="",
    )


TEXT_ENGINE = _engine(autoescape=False)
HTML_ENGINE = _engine(autoescape=True)


class RenderError(Exception):
    """A template could not be compiled or rendered; `field` names which part."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class RenderedMessage:
    channel: str
    parts: dict[str, str] = field(default_factory=dict)


def _render_field(field_name: str, source: str, context: dict[str, Any]) -> str:
    engine = HTML_ENGINE if field_name in HTML_FIELDS else TEXT_ENGINE
    try:
        compiled = engine.from_string(source)
        return compiled.render(Context(context, autoescape=engine.autoescape)).strip()
    except TemplateSyntaxError as error:
        raise RenderError(field_name, str(error)) from error
    except (TypeError, ValueError, ArithmeticError, AttributeError, KeyError, IndexError, RecursionError) as error:
        # Filters applied to caller-supplied data of the wrong type end up here.
        raise RenderError(field_name, f"{type(error).__name__}: {error}") from error


def build_context(data: dict[str, Any], recipient: dict[str, str]) -> dict[str, Any]:
    """Data keys are usable bare (`{{ post_title }}`) or as `{{ data.post_title }}`."""
    return {**data, "data": data, "recipient": recipient}


def render_message(template: Template, context: dict[str, Any]) -> RenderedMessage:
    """Render every field the template's channel uses."""
    parts = {
        name: _render_field(name, getattr(template, name), context)
        for name in CHANNEL_FIELDS[template.channel]
        if getattr(template, name)
    }
    return RenderedMessage(channel=template.channel, parts=parts)


def template_validate(template: Template) -> None:
    """Compile and render every used field with the category's sample data."""
    errors: dict[str, str] = {}
    for name in REQUIRED_FIELDS.get(template.channel, ()):
        if not getattr(template, name).strip():
            errors[name] = f"A {template.channel} template needs a {name}."
    if errors:
        raise ValidationError(errors)
    sample = template.category.sample_data if template.category_id else {}
    context = build_context(sample, {"name": "Sample User", "username": "sample", "email": "sample@example.com"})
    try:
        render_message(template, context)
    except RenderError as error:
        raise ValidationError({error.field: error.message}) from error
