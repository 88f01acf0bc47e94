"""Template rendering: the sandbox, escaping, and validation on save."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from notifications.models import Template
from notifications.rendering import RenderError, build_context, render_message, render_part
from tests import factories

RECIPIENT = {"name": "Ada Lovelace", "username": "ada", "email": "ada@example.com"}


def template(channel: str = "email", **fields: str) -> Template:
    """An unsaved template; rendering needs no database."""
    defaults = {"subject": "Hi", "body": "Body", "title": "Title"}
    return Template(channel=channel, locale="en", **{**defaults, **fields})


def render(data: dict | None = None, channel: str = "email", **fields: str) -> dict[str, str]:
    return render_message(template(channel, **fields), build_context(data or {}, RECIPIENT)).parts


# --- the sandbox ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{% debug %}",
        "{% load static %}",
        "{% load i18n %}{% trans 'x' %}",
        '{% include "home.html" %}',
        '{% extends "home.html" %}',
        '{% url "admin:index" %}',
        "{% csrf_token %}",
        '{% static "x.css" %}',
        "{% get_current_language as lang %}",
    ],
)
def test_tags_that_reach_outside_the_context_are_rejected(source):
    with pytest.raises(RenderError) as raised:
        render(body=source)

    assert raised.value.field == "body"


@pytest.mark.parametrize(
    "source",
    [
        "{{ data.__class__ }}",
        "{{ recipient.email.__class__.__mro__ }}",
        "{{ recipient.email.upper.__self__ }}",
        "{{ _private }}",
    ],
)
def test_underscore_attributes_are_rejected(source):
    with pytest.raises(RenderError) as raised:
        render({"_private": "x"}, subject=source)

    assert raised.value.field == "subject"


@pytest.mark.parametrize(
    "source",
    [
        "{{ settings.SECRET_KEY }}",
        "{{ SECRET_KEY }}",
        "{{ request.user }}",
        "{{ user.password }}",
        "{{ perms }}",
        "{{ csrf_token }}",
        "{{ data.keys }}{{ data.items }}",
    ],
)
def test_variables_cannot_reach_settings_or_request_state(source, settings):
    settings.SECRET_KEY = "sekrit-value-that-must-not-leak"

    parts = render({"name": "Ada"}, body=f"[{source}]")

    assert "sekrit" not in parts["body"]
    assert "password" not in parts["body"]
    assert "pbkdf2" not in parts["body"]


def test_context_holds_only_data_and_recipient():
    parts = render({"name": "Ada", "nested": {"k": [1, 2]}}, body="{{ name }}|{{ data.name }}|{{ nested.k.1 }}")

    assert parts["body"] == "Ada|Ada|2"
    assert render(body="{{ recipient.name }} {{ recipient.email }}")["body"] == "Ada Lovelace ada@example.com"


def test_ordinary_control_flow_and_filters_work():
    parts = render(
        {"items": ["a", "b", "c"], "count": 3, "text": "hello world"},
        body="{% for i in items %}{{ i|upper }}{% endfor %} {% if count > 2 %}many{% endif %} {{ text|title }}",
    )

    assert parts["body"] == "ABC many Hello World"


def test_filters_on_data_of_the_wrong_type_raise_a_render_error_naming_the_field():
    with pytest.raises(RenderError) as raised:
        render({"n": 10}, title="ok", channel="push", body="{{ n|divisibleby:0 }}")

    assert raised.value.field == "body"


# --- escaping and missing values -----------------------------------------------------------


def test_html_fields_autoescape_and_text_fields_do_not():
    data = {"author": "<script>alert('x')</script> & co"}

    parts = render(data, subject="{{ author }}", body="{{ author }}", html_body="<p>{{ author }}</p>")

    assert parts["html_body"] == "<p>&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co</p>"
    assert parts["body"] == "<script>alert('x')</script> & co"
    assert parts["subject"] == "<script>alert('x')</script> & co"


def test_html_escaping_cannot_be_undone_by_the_data():
    parts = render({"v": '"><img src=x onerror=alert(1)>'}, html_body='<a href="{{ v }}">x</a>')

    assert "<img" not in parts["html_body"]
    assert "&quot;&gt;&lt;img" in parts["html_body"]


@pytest.mark.parametrize("channel", ["sms", "push", "in_app"])
def test_non_email_channels_do_not_escape(channel):
    parts = render({"v": "<b>&</b>"}, channel=channel, title="{{ v }}", body="{{ v }}")

    assert parts["body"] == "<b>&</b>"


def test_missing_variables_render_empty():
    parts = render({}, subject="Hi {{ name }}!", body="[{{ missing.deeply.nested }}]", html_body="<p>{{ nope }}</p>")

    assert parts == {"subject": "Hi !", "body": "[]", "html_body": "<p></p>"}


def test_only_the_channels_fields_are_rendered():
    parts = render(channel="sms", subject="ignored", title="ignored", body="text", html_body="<p>ignored</p>")

    assert parts == {"body": "text"}


# --- validation when a template is saved ---------------------------------------------------


@pytest.fixture
def category(db):
    return factories.CategoryFactory(slug="welcome", sample_data={"name": "Ada", "n": 3})


@pytest.mark.parametrize(
    ("field", "source"),
    [
        ("subject", "{% debug %}"),
        ("body", "{% load static %}"),
        ("html_body", '{% include "home.html" %}'),
        ("body", '{% extends "home.html" %}'),
        ("subject", "{% if %}"),
        ("body", "{% if name %}never closed"),
        ("html_body", "{% for x in %}{% endfor %}"),
        ("body", "{{ n|divisibleby:0 }}"),
    ],
)
def test_full_clean_reports_the_broken_field(category, field, source):
    instance = Template(category=category, channel="email", subject="Hi {{ name }}", body="Hello", html_body="")
    setattr(instance, field, source)

    with pytest.raises(ValidationError) as raised:
        instance.full_clean()

    assert set(raised.value.message_dict) == {field}


@pytest.mark.parametrize(
    ("channel", "missing"),
    [("email", "subject"), ("email", "body"), ("sms", "body"), ("push", "title"), ("in_app", "title")],
)
def test_full_clean_reports_a_missing_required_field(category, channel, missing):
    instance = Template(category=category, channel=channel, subject="S", title="T", body="B")
    setattr(instance, missing, "   ")

    with pytest.raises(ValidationError) as raised:
        instance.full_clean()

    assert missing in raised.value.message_dict


def test_full_clean_accepts_a_valid_template(category):
    instance = Template(
        category=category, channel="email", subject="Hi {{ name }}", body="{{ n }} new", html_body="<b>{{ name }}</b>"
    )

    instance.full_clean()


def test_admin_form_refuses_a_sandbox_escape(category, admin_client):
    response = admin_client.post(
        "/admin/notifications/template/add/",
        {"category": category.pk, "channel": "email", "locale": "en", "subject": "{% debug %}", "body": "Hello"},
    )

    assert response.status_code == 200
    assert "subject" in response.context["adminform"].form.errors
    assert not Template.objects.exists()


def test_a_field_is_compiled_once_and_renders_each_context_on_its_own():
    from notifications.rendering.render import _compiled

    source = "Hi {{ recipient.name }}{% if urgent %}, now{% endif %} ({{ data.n|default:'none' }})"
    misses = _compiled.cache_info().misses
    first = render_part("body", source, build_context({"urgent": True, "n": 1}, {"name": "Ada"}))
    second = render_part("body", source, build_context({}, {"name": "Grace"}))
    assert (first, second) == ("Hi Ada, now (1)", "Hi Grace (none)")
    assert _compiled.cache_info().misses == misses + 1
