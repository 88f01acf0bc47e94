"""Which variables a template reads that the category's sample data lacks, and on which line."""

from __future__ import annotations

import pytest

from notifications.channels import Channel
from notifications.models import Category, Template
from notifications.rendering import (
    SAMPLE_RECIPIENT,
    RenderError,
    VariableUse,
    build_context,
    render_message,
    template_problems,
    unknown_variables,
)
from notifications.rendering.render import TEXT_ENGINE, field_problems

SAMPLE = {
    "author": "Ada",
    "post": {"title": "Release notes", "tags": ["news", "release"]},
    "items": [{"name": "one", "price": 1}, {"name": "two", "sku": "B2"}],
    "count": 3,
    "coupon": None,
    "empty": [],
}
CONTEXT = build_context(SAMPLE, SAMPLE_RECIPIENT)


def unknown(source: str) -> list[VariableUse]:
    return unknown_variables(TEXT_ENGINE.from_string(source), CONTEXT)


def names(source: str) -> list[str]:
    return [use.name for use in unknown(source)]


@pytest.mark.parametrize(
    "source",
    [
        "{{ author }} wrote on {{ post.title }}",
        "{{ data.author }} {{ data.post.tags.1 }} {{ post.tags.0 }}",
        "{{ recipient.name }} {{ recipient.username }} {{ recipient.email }}",
        "{% for item in items %}{{ item.name }} {{ item.price }} {{ item.sku }} {{ forloop.counter }}{% endfor %}",
        "{% for tag in post.tags %}{{ tag|upper }}{% empty %}none{% endfor %}",
        "{% with title=post.title %}{{ title }}{% endwith %}",
        "{% if count > 1 and author %}{{ count }}{% elif not author %}x{% else %}y{% endif %}",
        "{{ author|default:count }} {{ author.upper }} {{ data.items }}",
        "{{ coupon.code }}",  # null in the sample: present or not, the sample cannot say what it holds
        "{% for thing in empty %}{{ thing.anything }}{% endfor %}",
        "{% filter upper %}{{ author }}{% endfilter %}",
        "{% cycle 'odd' 'even' as parity silent %}{{ parity }}",
        "{% firstof coupon author as who %}{{ who }}",
        "{% if author %}{% firstof coupon author as who %}{% endif %}{{ who }}",  # `if` pushes no scope
        "{% regroup items by name as grouped %}{% for group in grouped %}{{ group.grouper }}{% endfor %}",
        "{% widthratio count 10 100 as percent %}{{ percent }}",
        "{% if True %}{{ None }}{% endif %}{{ 'literal' }} {{ 42 }}",
        "{% verbatim %}{{ not_a_variable }}{% endverbatim %}{# {{ nor_this }} #}",
    ],
)
def test_variables_present_in_the_sample_are_known(source):
    assert unknown(source) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ auther }}", ["auther"]),
        ("{{ post.titel }}", ["post.titel"]),
        ("{{ data.nope }}", ["data.nope"]),
        ("{{ recipient.phone }}", ["recipient.phone"]),
        ("{{ post.tags.5 }}", ["post.tags.5"]),
        ("{{ author.first.letter }}", ["author.first.letter"]),
        ("{% for item in items %}{{ item.colour }}{% endfor %}", ["item.colour"]),
        ("{% for item in items %}{% endfor %}{{ item }}", ["item"]),  # loop variables end with the loop
        ("{% with t=post.title %}{% endwith %}{{ t }}", ["t"]),
        ("{% if missing %}x{% endif %}", ["missing"]),
        ("{% if author %}{% elif other == 1 %}{% endif %}", ["other"]),
        ("{{ author|default:fallback }}", ["fallback"]),
        ("{% for x in nothing %}{{ x.y }}{% endfor %}", ["nothing"]),
        ("{% with p=post %}{{ p.body }}{% endwith %}", ["p.body"]),
        ("{% firstof nope author %}", ["nope"]),
        ("{% widthratio count total 100 %}", ["total"]),
    ],
)
def test_variables_missing_from_the_sample_are_reported(source, expected):
    assert names(source) == expected


def test_unknown_variables_carry_their_line():
    source = "Hello {{ author }},\n\n{{ post.titel }}\n{% if x %}\n  {{ y }}\n{% endif %}"

    assert unknown(source) == [VariableUse("post.titel", 3), VariableUse("x", 4), VariableUse("y", 5)]


def test_elif_conditions_are_reported_on_the_elif_line():
    source = "{% if author %}\nA\n{% elif nobody %}\nB\n{% endif %}"

    assert unknown(source) == [VariableUse("nobody", 3)]


def test_a_variable_repeated_on_one_line_is_reported_once():
    assert unknown("{{ x }} and {{ x }}\n{{ x }}") == [VariableUse("x", 1), VariableUse("x", 2)]


# --- messages, as validation shows them -----------------------------------------------------------


def test_syntax_errors_name_their_line():
    [message] = field_problems("body", "Hi\n\n{% if author %}never closed", CONTEXT)

    assert "line 3" in message
    assert "Unclosed tag" in message


def test_an_unknown_filter_names_its_line():
    [message] = field_problems("body", "Hi\n{{ author|shout }}", CONTEXT)

    assert message.startswith("Line 2: ")
    assert "shout" in message


def test_unknown_variables_are_reported_with_line_and_a_hint():
    messages = field_problems("body", "{{ author }}\n{{ post.titel }}\n{{ recipient.phone }}", CONTEXT)

    assert messages == [
        'Line 2: unknown variable "post.titel": it is not in the category\'s sample data.',
        'Line 3: unknown variable "recipient.phone"; a recipient has recipient.name, recipient.username, '
        "recipient.email.",
    ]


def test_errors_while_rendering_the_sample_name_their_line():
    [message] = field_problems("body", "{{ author }}\n{{ count|divisibleby:0 }}", CONTEXT)

    assert message == "Line 2: ZeroDivisionError: integer modulo by zero"


def test_a_missing_filter_argument_is_reported_without_dumping_the_context():
    messages = field_problems("body", "{{ author|default:nobody }}", CONTEXT)

    assert messages[0] == 'Line 1: unknown variable "nobody": it is not in the category\'s sample data.'
    assert messages[1] == 'Line 1: a filter argument names a missing variable "nobody"'
    assert "Ada" not in " ".join(messages)


def test_a_missing_filter_argument_at_send_time_is_a_render_error_not_a_crash():
    template = Template(category=Category(slug="c"), channel=Channel.SMS, body="{{ author|default:nickname }}")

    with pytest.raises(RenderError) as raised:
        render_message(template, build_context({"author": "Ada", "secret": "s3cret"}, SAMPLE_RECIPIENT))

    assert raised.value.field == "body"
    assert raised.value.message == 'a filter argument names a missing variable "nickname"'
    assert "s3cret" not in str(raised.value)


def test_template_problems_cover_every_field_the_channel_uses():
    category = Category(slug="replies", sample_data={"author": "Ada"})
    template = Template(
        category=category,
        channel=Channel.EMAIL,
        subject="{{ autor }} replied",
        body="",
        html_body="<p>{{ author }}</p>\n{% for %}",
        title="{{ ignored_for_email }}",
    )

    problems = template_problems(template)

    assert set(problems) == {"subject", "body", "html_body"}
    assert problems["subject"] == ['Line 1: unknown variable "autor": it is not in the category\'s sample data.']
    assert problems["body"] == ["Email templates need a body."]
    assert "line 2" in problems["html_body"][0].lower()


def test_a_category_without_sample_data_knows_only_recipient_fields():
    template = Template(category=Category(slug="bare"), channel=Channel.SMS, body="{{ recipient.name }} {{ code }}")

    assert template_problems(template) == {
        "body": ['Line 1: unknown variable "code": it is not in the category\'s sample data.']
    }
