"""Digest templates as the admin edits them: checked against sample items on save, and the
built-in defaults used where none is written."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from digests.models import DigestTemplate
from digests.rendering import DEFAULT_TEMPLATES, digest_context, digest_render, digest_template_for
from tests import factories


@pytest.fixture
def comments(db):
    return factories.category_with_templates(slug="comment_reply", channels=("email",))


def test_a_valid_template_passes_the_admins_checks(comments):
    template = DigestTemplate(
        category=comments, channel="email", subject="{{ count }} new comments", body="{{ items.0.title }}"
    )

    template.full_clean()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"channel": "email", "subject": "", "body": "x"}, "subject"),
        ({"channel": "sms", "body": ""}, "body"),
        ({"channel": "push", "title": "{% if %}"}, "title"),
        ({"channel": "in_app", "title": "x"}, "channel"),
        ({"channel": "email", "subject": "{% include 'x.html' %}", "body": "x"}, "subject"),
    ],
)
def test_a_broken_template_is_refused_naming_the_field(comments, fields, field):
    with pytest.raises(ValidationError) as raised:
        DigestTemplate(category=comments, **fields).full_clean()

    assert field in raised.value.message_dict


def test_the_admins_template_for_the_locale_wins_over_the_default(comments):
    DigestTemplate.objects.create(category=comments, channel="email", locale="de", subject="{{ count }} neue")

    assert digest_template_for(comments, "email", "de-AT").subject == "{{ count }} neue"
    assert digest_template_for(comments, "email", "fr").subject == DEFAULT_TEMPLATES["email"]["subject"]


@pytest.mark.parametrize("channel", sorted(DEFAULT_TEMPLATES))
def test_every_default_template_renders_the_count(comments, channel):
    template = digest_template_for(comments, channel, "en")
    items = [{"title": f"Reply {n}", "data": {}, "created_at": ""} for n in range(12)]

    parts = digest_render(template, digest_context(comments, 12, items, {"name": "Ada"}))

    assert "12 new Comment Reply notifications" in " ".join(parts.values())
