"""Render templates in a sandboxed engine.

The context holds only plain JSON values (the notification's data and a few recipient
fields), so variable lookups cannot reach model attributes or settings.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.template import Context, Engine, TemplateSyntaxError, VariableDoesNotExist
from django.template import Template as DjangoTemplate

from notifications.channels import Channel
from notifications.rendering.variables import VariableUse, unknown_variables

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


def _engine(autoescape: bool, debug: bool = False) -> Engine:
    return SandboxEngine(
        dirs=[],
        app_dirs=False,
        loaders=[],
        libraries={},
        builtins=["notifications.rendering.sandbox_library"],
        autoescape=autoescape,
        string_if_invalid="",
        debug=debug,
    )


# Compiled template fields kept per process: a few per template and locale, and a template
# edited in the admin has a new source, so its old one just ages out.
COMPILED_CACHE_SIZE = 2048
TEXT_ENGINE = _engine(autoescape=False)
HTML_ENGINE = _engine(autoescape=True)
# Checking uses debug twins: their errors carry the line they happened on.
_CHECK_ENGINES = {TEXT_ENGINE: _engine(autoescape=False, debug=True), HTML_ENGINE: _engine(autoescape=True, debug=True)}
# Filters applied to caller-supplied data of the wrong type raise these while rendering, and a
# filter argument naming a missing variable raises VariableDoesNotExist (a missing variable
# elsewhere renders as "").
RENDER_ERRORS = (
    TypeError,
    ValueError,
    ArithmeticError,
    AttributeError,
    KeyError,
    IndexError,
    RecursionError,
    VariableDoesNotExist,
)
# Who a template is checked and previewed for.
SAMPLE_RECIPIENT = {"name": "Sample User", "username": "sample", "email": "sample@example.com"}


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


def _engine_for(field_name: str) -> Engine:
    return HTML_ENGINE if field_name in HTML_FIELDS else TEXT_ENGINE


@functools.lru_cache(maxsize=COMPILED_CACHE_SIZE)
def _compiled(engine: Engine, source: str) -> DjangoTemplate:
    # A compiled template renders any number of contexts, from any thread (as Django's cached
    # loader uses them); compiling took about two thirds of a field's rendering.
    return engine.from_string(source)


def render_part(field_name: str, source: str, context: dict[str, Any]) -> str:
    """One field of a template, rendered; raises RenderError."""
    engine = _engine_for(field_name)
    try:
        compiled = _compiled(engine, source)
        return compiled.render(Context(context, autoescape=engine.autoescape)).strip()
    except TemplateSyntaxError as error:
        raise RenderError(field_name, str(error)) from error
    except RENDER_ERRORS as error:
        raise RenderError(field_name, _render_error_message(error)) from error


def _render_error_message(error: Exception) -> str:
    if isinstance(error, VariableDoesNotExist):
        # Its own message lists the whole context: recipient and data, which reasons and logs must not hold.
        return f'a filter argument names a missing variable "{error.params[0]}"'
    return f"{type(error).__name__}: {error}"


def build_context(data: dict[str, Any], recipient: dict[str, str]) -> dict[str, Any]:
    """Data keys are usable bare (`{{ post_title }}`) or as `{{ data.post_title }}`."""
    return {**data, "data": data, "recipient": recipient}


def render_message(template: Template, context: dict[str, Any]) -> RenderedMessage:
    """Render every field the template's channel uses."""
    parts = {
        name: render_part(name, getattr(template, name), context)
        for name in CHANNEL_FIELDS[template.channel]
        if getattr(template, name)
    }
    return RenderedMessage(channel=template.channel, parts=parts)


def _at_line(line: int | None, message: str) -> str:
    if line is None or f"line {line}" in message:
        return message
    return f"Line {line}: {message}"


def _error_line(error: Exception) -> int | None:
    debug = getattr(error, "template_debug", None)
    return debug["line"] if debug else None


def _unknown_variable_message(use: VariableUse) -> str:
    if use.name.split(".", 1)[0] == "recipient":
        fields = ", ".join(f"recipient.{name}" for name in SAMPLE_RECIPIENT)
        return _at_line(use.line, f'unknown variable "{use.name}"; a recipient has {fields}.')
    return _at_line(use.line, f'unknown variable "{use.name}": it is not in the category\'s sample data.')


def field_problems(field_name: str, source: str, context: dict[str, Any]) -> list[str]:
    """What is wrong with one field, each with its line: a syntax error, else the variables
    the context lacks and any error rendering it with that context."""
    engine = _CHECK_ENGINES[_engine_for(field_name)]
    try:
        compiled = engine.from_string(source)
    except TemplateSyntaxError as error:
        return [_at_line(_error_line(error), str(error))]
    except RENDER_ERRORS as error:
        return [_render_error_message(error)]
    problems = [_unknown_variable_message(use) for use in unknown_variables(compiled, context)]
    try:
        compiled.render(Context(context, autoescape=engine.autoescape))
    except TemplateSyntaxError as error:
        problems.append(_at_line(_error_line(error), str(error)))
    except RENDER_ERRORS as error:
        problems.append(_at_line(_error_line(error), _render_error_message(error)))
    return problems


def template_sample_data(template: Template) -> dict[str, Any]:
    """The category's sample data; the category may be unsaved (added with its templates)."""
    category = getattr(template, "category", None)
    sample = category.sample_data if category is not None else {}
    return sample if isinstance(sample, dict) else {}


def template_problems(template: Template) -> dict[str, list[str]]:
    """Every problem of every field the template's channel uses, checked with the category's
    sample data: empty required fields, syntax errors, unknown variables, render errors."""
    problems: dict[str, list[str]] = {}
    for name in REQUIRED_FIELDS.get(template.channel, ()):
        if not getattr(template, name).strip():
            problems[name] = [f"{Channel(template.channel).label} templates need a {name}."]
    context = build_context(template_sample_data(template), SAMPLE_RECIPIENT)
    for name in CHANNEL_FIELDS.get(template.channel, ()):
        source = getattr(template, name)
        found = field_problems(name, source, context) if source else []
        if found:
            problems.setdefault(name, []).extend(found)
    return problems


def template_validate(template: Template) -> None:
    """Raise a ValidationError naming each field's problems (see `template_problems`)."""
    problems = template_problems(template)
    if problems:
        raise ValidationError(problems)
