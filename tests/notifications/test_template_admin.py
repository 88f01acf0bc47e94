"""The template and category admin: live preview per channel, validation with line numbers,
versions with restore, and 'send a test to me' through the real pipeline."""

from __future__ import annotations

import html
import json
import re

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from delivery.models import Delivery, OutboxMessage
from notifications.admin_test_send import ADMIN_TEST_KEY_NAME
from notifications.models import Category, Notification, Template, TemplateVersion
from tests import factories
from tests.support.processes import wait_for

SAMPLE = {"author": "Ada", "post_title": "Release notes", "code": "123456", "url": "/posts/1"}
PREVIEW_URL = "/admin/notifications/template/preview/"
CHANNELS = ("email", "sms", "push", "in_app")


@pytest.fixture
def staff(db):
    return factories.UserFactory(username="root", email="root@example.com", is_staff=True, is_superuser=True)


@pytest.fixture
def client(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def category(db) -> Category:
    return factories.CategoryFactory(slug="comment_reply", name="Replies", sample_data=SAMPLE)


def template_for(category: Category, channel: str, **fields: str) -> Template:
    values = {"subject": "", "title": "", "body": "", "html_body": "", "action_url": "", **fields}
    return Template.objects.create(category=category, channel=channel, locale="en", **values)


def change_url(template: Template) -> str:
    return reverse("admin:notifications_template_change", args=[template.pk])


def form_data(template: Template, **changes: str) -> dict[str, object]:
    fields = ["category", "channel", "locale", "subject", "title", "body", "html_body", "action_url"]
    data = {name: getattr(template, name) for name in fields if name != "category"}
    return {**data, "category": template.category_id, **changes}


def preview(client: Client, category: Category, channel: str, **fields: str):
    response = client.post(PREVIEW_URL, {"category": category.pk, "channel": channel, **fields})
    assert response.status_code == 200
    return response, response.context["preview"]


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- live preview ------------------------------------------------------------------------------


def test_email_preview_shows_the_html_part_in_a_sandboxed_iframe_beside_the_text_part(client, category):
    response, shown = preview(
        client,
        category,
        "email",
        subject="{{ author }} replied on {{ post_title }}",
        body="{{ author }} wrote.",
        html_body="<p><b>{{ author }}</b> wrote.</p><script>parent.document.title='owned'</script>",
    )
    page = response.content.decode()

    assert shown.parts["subject"] == "Ada replied on Release notes"
    assert shown.parts["body"] == "Ada wrote."
    iframe = re.search(r"<iframe[^>]*>", page).group(0)
    assert 'sandbox=""' in iframe
    assert "allow-scripts" not in iframe
    assert "allow-same-origin" not in iframe
    srcdoc = html.unescape(re.search(r'srcdoc="([^"]*)"', iframe).group(1))
    assert srcdoc.startswith("<p><b>Ada</b> wrote.</p>")
    assert "<script>" not in page.replace(iframe, "")  # the email's script exists only inside srcdoc
    assert "Ada wrote." in page


def test_email_preview_escapes_sample_values_in_the_html_part(client, category):
    category.sample_data = {**SAMPLE, "author": "<img src=x onerror=alert(1)>"}
    category.save()

    _, shown = preview(client, category, "email", subject="Hi", body="Hi", html_body="<p>{{ author }}</p>")

    assert shown.parts["html_body"] == "<p>&lt;img src=x onerror=alert(1)&gt;</p>"


@pytest.mark.parametrize(
    ("body", "encoding", "segments"),
    [
        ("Your code is {{ code }}", "GSM-7", 1),
        ("x" * 160, "GSM-7", 1),
        ("x" * 161, "GSM-7", 2),
        ("{{ author }} says " + "x" * 149 + "[]", "GSM-7", 2),  # 160 characters, but [ and ] take two septets
        ("Code {{ code }} ✅", "UCS-2", 1),
        ("é" * 10 + "ç" + "x" * 60, "UCS-2", 2),  # é is GSM-7, ç is not: 71 UTF-16 units
    ],
)
def test_sms_preview_counts_characters_encoding_and_segments(client, category, body, encoding, segments):
    response, shown = preview(client, category, "sms", body=body)
    page = response.content.decode()

    assert shown.sms.encoding == encoding
    assert shown.sms.segments == segments
    assert shown.sms.characters == len(shown.parts["body"])
    assert f'data-fact="encoding">{encoding}<' in page
    assert f'data-fact="segments">{segments}<' in page


def test_sms_preview_names_the_characters_that_force_ucs2(client, category):
    response, shown = preview(client, category, "sms", body="Caf\u00e7 \u2705 {{ author }}")

    assert shown.sms.non_gsm_characters == ("ç", "✅")
    assert 'data-fact="non-gsm"' in response.content.decode()


def test_push_preview_counts_payload_bytes_in_utf8(client, category):
    _, ascii_only = preview(client, category, "push", title="Hi {{ author }}", body="e")
    _, euro = preview(client, category, "push", title="Hi {{ author }}", body="€")

    assert ascii_only.parts == {"title": "Hi Ada", "body": "e"}
    assert euro.push.payload_bytes - ascii_only.push.payload_bytes == 2  # "€" is three bytes
    assert ascii_only.push.over_limit_by == 0


def test_push_preview_warns_over_fcm_4kb_limit(client, category):
    response, shown = preview(client, category, "push", title="{{ author }}", body="x" * 4096)
    page = response.content.decode()

    assert shown.push.payload_bytes > 4096
    assert shown.push.over_limit_by == shown.push.payload_bytes - 4096
    assert f"{shown.push.over_limit_by} bytes over FCM's 4 KB limit" in page

    short_response, short = preview(client, category, "push", title="{{ author }}", body="x" * 100)
    assert short.push.over_limit_by == 0
    assert "over FCM" not in short_response.content.decode()


def test_in_app_preview_is_drawn_as_the_bell_draws_an_item(client, category):
    response, shown = preview(
        client, category, "in_app", title="{{ author }} replied", body="On {{ post_title }}", action_url="{{ url }}"
    )
    page = response.content.decode()

    assert shown.parts == {"title": "Ada replied", "body": "On Release notes", "action_url": "/posts/1"}
    assert 'class="clarion-bell__item clarion-bell__item--unread"' in page
    assert '<span class="clarion-bell__title" data-part="title">Ada replied</span>' in page
    assert '<span class="clarion-bell__body" data-part="body">On Release notes</span>' in page
    assert "/posts/1" in page


def test_preview_renders_the_typed_fields_not_the_saved_ones(client, category):
    template = template_for(category, "sms", body="Saved {{ code }}")

    _, shown = preview(client, category, "sms", body="Typed {{ code }}")

    assert shown.parts["body"] == "Typed 123456"
    template.refresh_from_db()
    assert template.body == "Saved {{ code }}"


def test_preview_lists_problems_with_their_line_and_still_shows_the_rest(client, category):
    response, shown = preview(
        client, category, "email", subject="{{ author }}", body="Hi\n{{ auther }}", html_body="{% if %}"
    )

    assert shown.parts["subject"] == "Ada"
    assert shown.problems["body"] == ['Line 2: unknown variable "auther": it is not in the category\'s sample data.']
    assert "html_body" in shown.problems
    assert "Line 2: unknown variable &quot;auther&quot;" in response.content.decode()


def test_preview_without_a_category_asks_for_one(client):
    response = client.post(PREVIEW_URL, {"channel": "sms", "body": "Hi"})

    assert response.status_code == 200
    assert response.context["preview"] is None
    assert "Choose a category" in response.content.decode()


def test_preview_is_for_staff_with_template_permissions_only(db, category):
    anonymous = Client().post(PREVIEW_URL, {"category": category.pk, "channel": "sms", "body": "Hi"})
    assert anonymous.status_code == 302
    assert "/admin/login/" in anonymous["Location"]

    staff_without_permissions = Client()
    staff_without_permissions.force_login(factories.UserFactory(username="intern", is_staff=True))
    response = staff_without_permissions.post(PREVIEW_URL, {"category": category.pk, "channel": "sms", "body": "x"})
    assert response.status_code == 403

    editor = factories.UserFactory(username="editor", is_staff=True)
    editor.user_permissions.add(Permission.objects.get(codename="change_template"))
    allowed = Client()
    allowed.force_login(editor)
    assert allowed.post(PREVIEW_URL, {"category": category.pk, "channel": "sms", "body": "x"}).status_code == 200
    assert allowed.get(PREVIEW_URL).status_code == 405


def test_change_page_shows_the_saved_preview_and_the_script_without_needing_it(client, category):
    template = template_for(category, "email", subject="Hi {{ author }}", body="Text", html_body="<p>{{ author }}</p>")

    response = client.get(change_url(template))
    page = response.content.decode()

    assert response.status_code == 200
    assert response.context["preview"].parts["subject"] == "Hi Ada"
    assert "<iframe" in page
    assert 'data-preview-url="/admin/notifications/template/preview/"' in page
    assert "clarion/template_preview.js" in page
    channel_fields = json.loads(re.search(r'id="clarion-channel-fields"[^>]*>(.*?)</script>', page).group(1))
    assert channel_fields["sms"] == ["body"]


def test_add_page_renders_without_a_preview(client, category):
    response = client.get(reverse("admin:notifications_template_add"))

    assert response.status_code == 200
    assert response.context["preview"] is None


# --- validation on save ------------------------------------------------------------------------


def test_saving_reports_unknown_variables_with_field_and_line(client, category):
    template = template_for(category, "email", subject="Hi", body="Hello")

    response = client.post(change_url(template), form_data(template, body="Hello {{ author }}\n\nSee {{ post_titel }}"))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["body"] == ['Line 3: unknown variable "post_titel": it is not in the category\'s sample data.']
    template.refresh_from_db()
    assert template.body == "Hello"
    # The page sent back previews what was typed.
    assert response.context["preview"].parts["body"] == "Hello Ada\n\nSee"


def test_saving_reports_syntax_errors_with_field_and_line(client, category):
    template = template_for(category, "email", subject="Hi", body="Hello")

    response = client.post(change_url(template), form_data(template, html_body="<p>\n{{ author|nosuchfilter }}</p>"))

    errors = response.context["adminform"].form.errors
    assert list(errors) == ["html_body"]
    assert errors["html_body"][0].startswith("Line 2: Invalid filter: 'nosuchfilter'")


def test_saving_reports_an_unknown_recipient_field(client, category):
    template = template_for(category, "push", title="Hi")

    response = client.post(change_url(template), form_data(template, title="Hi {{ recipient.phone }}"))

    [error] = response.context["adminform"].form.errors["title"]
    assert error.startswith('Line 1: unknown variable "recipient.phone"; a recipient has recipient.name')


def test_category_inline_templates_are_checked_against_the_sample_data_submitted_with_them(client, category):
    template = template_for(category, "sms", body="Code {{ code }}")
    data = category_form_data(category, sample_data=json.dumps({"author": "Ada"}))
    data.update(inline_data([template]))

    response = client.post(reverse("admin:notifications_category_change", args=[category.pk]), data)

    assert response.status_code == 200
    [inline_errors] = response.context["inline_admin_formsets"][0].formset.errors
    assert inline_errors["body"] == ['Line 1: unknown variable "code": it is not in the category\'s sample data.']
    category.refresh_from_db()
    assert category.sample_data == SAMPLE


# --- versions ----------------------------------------------------------------------------------


def test_each_saved_text_is_a_version_with_who_and_when(client, staff, category):
    response = client.post(
        reverse("admin:notifications_template_add"),
        {"category": category.pk, "channel": "sms", "locale": "en", "body": "v1 {{ code }}"},
    )
    assert response.status_code == 302
    template = Template.objects.get()

    client.post(change_url(template), form_data(template, body="v2 {{ code }}"))
    client.post(change_url(template), form_data(template, body="v2 {{ code }}", locale="en"))  # nothing changed

    versions = list(template.versions.order_by("number"))
    assert [(v.number, v.body, v.created_by) for v in versions] == [
        (1, "v1 {{ code }}", staff),
        (2, "v2 {{ code }}", staff),
    ]
    assert all(v.created_at is not None for v in versions)


def test_change_page_lists_versions_newest_first_with_the_current_one_marked(client, staff, category):
    template = template_for(category, "sms", body="one")
    client.post(change_url(template), form_data(template, body="two"))
    client.post(change_url(template), form_data(template, body="three"))

    response = client.get(change_url(template))
    page = response.content.decode()

    assert [v.number for v in response.context["versions"]] == [2, 1]
    assert response.context["current_version"].body == "three"
    restore_urls = re.findall(r'action="(/admin/notifications/template/\d+/versions/\d+/restore/)"', page)
    assert len(restore_urls) == len(response.context["versions"]) - 1  # not for the current one


def test_restore_puts_an_old_text_back_as_a_new_version(client, staff, category):
    template = template_for(category, "in_app", title="First {{ author }}")
    client.post(change_url(template), form_data(template, title="Second {{ author }}"))
    client.post(change_url(template), form_data(template, title="Third {{ author }}"))
    # Created outside the admin, its first text was never recorded: versions 1 and 2 are the edits.
    assert [v.title for v in template.versions.order_by("number")] == ["Second {{ author }}", "Third {{ author }}"]
    second = template.versions.get(title="Second {{ author }}")

    response = client.post(
        reverse("admin:notifications_template_restore_version", args=[template.pk, second.pk]), follow=True
    )

    template.refresh_from_db()
    assert template.title == "Second {{ author }}"
    newest = template.versions.order_by("-number").first()
    assert (newest.number, newest.title, newest.note, newest.created_by) == (
        second.number + 2,
        "Second {{ author }}",
        f"restored version {second.number}",
        staff,
    )
    assert f"Restored version {second.number} as version {newest.number}." in messages_of(response)


def test_restore_refuses_a_version_that_no_longer_validates(client, category):
    template = template_for(category, "sms", body="Code {{ code }}")
    client.post(change_url(template), form_data(template, body="By {{ author }}"))
    client.post(change_url(template), form_data(template, body="Code again {{ code }}"))
    old = template.versions.get(body="By {{ author }}")
    category.sample_data = {"code": "1"}
    category.save()

    response = client.post(
        reverse("admin:notifications_template_restore_version", args=[template.pk, old.pk]), follow=True
    )

    template.refresh_from_db()
    assert template.body == "Code again {{ code }}"
    assert template.versions.count() == 2
    message = messages_of(response)[-1]
    assert message.startswith(f"Version {old.number} was not restored")
    assert 'unknown variable "author"' in message


def test_restore_needs_change_permission_and_post(db, category):
    template = template_for(category, "sms", body="{{ code }}")
    version = TemplateVersion.objects.create(template=template, number=1, body="old {{ code }}")
    url = reverse("admin:notifications_template_restore_version", args=[template.pk, version.pk])
    viewer = factories.UserFactory(username="viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_template"))
    client = Client()
    client.force_login(viewer)

    assert client.post(url).status_code == 403
    template.refresh_from_db()
    assert template.body == "{{ code }}"

    admin = Client()
    admin.force_login(factories.UserFactory(username="boss", is_staff=True, is_superuser=True))
    assert admin.get(url).status_code == 405


def test_templates_saved_inline_on_the_category_are_versioned(client, staff, category):
    template = template_for(category, "sms", body="Code {{ code }}")
    data = category_form_data(category)
    data.update(inline_data([template], body="New code {{ code }}"))

    response = client.post(reverse("admin:notifications_category_change", args=[category.pk]), data)

    assert response.status_code == 302, response.context["inline_admin_formsets"][0].formset.errors
    assert [(v.body, v.created_by) for v in template.versions.all()] == [("New code {{ code }}", staff)]


# --- send a test to me -------------------------------------------------------------------------


def test_send_a_test_accepts_a_notification_for_the_signed_in_staff_member(client, staff, category):
    template = template_for(category, "email", subject="Hi {{ author }}", body="Text")
    other = factories.UserFactory(username="someone_else")

    response = client.post(reverse("admin:notifications_template_send_test", args=[template.pk]), follow=True)

    notification = Notification.objects.get()
    assert notification.recipient == staff
    assert notification.recipient != other
    assert notification.category == category
    assert notification.channels == ["email"]
    assert notification.data == SAMPLE
    assert notification.request.api_key.name == ADMIN_TEST_KEY_NAME
    [message] = messages_of(response)
    notification_url = reverse("admin:notifications_notification_change", args=[notification.pk])
    assert f'<a href="{notification_url}">{notification.pk}</a>' in message
    assert response.redirect_chain[-1][0] == change_url(template)


def test_send_a_test_reuses_one_internal_key(client, category):
    template = template_for(category, "sms", body="{{ code }}")
    url = reverse("admin:notifications_template_send_test", args=[template.pk])

    client.post(url)
    client.post(url)

    assert Notification.objects.count() == 2
    assert {n.request.api_key_id for n in Notification.objects.select_related("request")} == {
        Notification.objects.first().request.api_key_id
    }


def test_send_a_test_of_a_disabled_category_says_why_and_sends_nothing(client, category):
    category.enabled = False
    category.save()
    template = template_for(category, "sms", body="{{ code }}")

    response = client.post(reverse("admin:notifications_template_send_test", args=[template.pk]), follow=True)

    assert not Notification.objects.exists()
    [message] = messages_of(response)
    assert "not sent" in message
    assert "No enabled category 'comment_reply'" in message


def test_send_a_test_is_an_action_on_the_template_list_too(client, staff, category):
    sms = template_for(category, "sms", body="{{ code }}")
    push = template_for(category, "push", title="{{ author }}")

    client.post(
        reverse("admin:notifications_template_changelist"),
        {"action": "send_test_to_me", "_selected_action": [sms.pk, push.pk]},
    )

    assert sorted(n.channels[0] for n in Notification.objects.filter(recipient=staff)) == ["push", "sms"]


def test_send_a_test_needs_post(client, category):
    template = template_for(category, "sms", body="{{ code }}")

    assert client.get(reverse("admin:notifications_template_send_test", args=[template.pk])).status_code == 405
    assert not Notification.objects.exists()


@pytest.mark.e2e
def test_send_a_test_is_delivered_through_a_real_worker(processes):
    staff = factories.UserFactory(username="root", email="root@example.com", is_staff=True, is_superuser=True)
    category = factories.CategoryFactory(slug="comment_reply", sample_data=SAMPLE)
    template = template_for(category, "email", subject="{{ author }} replied on {{ post_title }}", body="See {{ url }}")
    processes.worker(env={"CLARION_EMAIL_PROVIDERS": "outbox"})
    client = Client()
    client.force_login(staff)

    client.post(reverse("admin:notifications_template_send_test", args=[template.pk]))

    notification = Notification.objects.get(recipient=staff)
    delivery = wait_for(
        lambda: Delivery.objects.filter(notification=notification, channel="email", status="sent").first(),
        timeout=30,
        message="the test email to be sent",
    )
    sent = OutboxMessage.objects.get(reference=str(delivery.pk))
    assert (sent.to, sent.subject) == ("root@example.com", "Ada replied on Release notes")
    assert sent.body.startswith("See /posts/1")


# --- category admin ----------------------------------------------------------------------------


def category_form_data(category: Category, **changes: object) -> dict[str, object]:
    data = {
        "slug": category.slug,
        "name": category.name,
        "description": category.description,
        "kind": category.kind,
        "priority": category.priority,
        "default_channels": list(category.default_channels),
        "max_per_hour": category.max_per_hour or "",
        "max_per_day": category.max_per_day or "",
        "over_cap_action": category.over_cap_action,
        "burst_limit": category.burst_limit or "",
        "burst_window_seconds": category.burst_window_seconds,
        "dedup_window_seconds": category.dedup_window_seconds,
        "enabled": "on" if category.enabled else "",
        "sample_data": json.dumps(category.sample_data),
        **{f"fallback_channels_{channel}": category.fallback_channels.get(channel, "") for channel in CHANNELS},
        **inline_data([]),
    }
    if category.required:
        data["required"] = "on"
    return {**data, **changes}


def inline_data(templates: list[Template], **changes: str) -> dict[str, object]:
    data: dict[str, object] = {
        "templates-TOTAL_FORMS": len(templates),
        "templates-INITIAL_FORMS": len(templates),
        "templates-MIN_NUM_FORMS": 0,
        "templates-MAX_NUM_FORMS": 1000,
    }
    for index, template in enumerate(templates):
        fields = ["channel", "locale", "subject", "title", "body", "html_body", "action_url"]
        data.update({f"templates-{index}-{name}": getattr(template, name) for name in fields})
        data.update({f"templates-{index}-{name}": value for name, value in changes.items()})
        data[f"templates-{index}-id"] = template.pk
        data[f"templates-{index}-category"] = template.category_id
    return data


def test_category_page_groups_its_settings(client, category):
    response = client.get(reverse("admin:notifications_category_change", args=[category.pk]))
    page = response.content.decode()

    assert response.status_code == 200
    headings = [name for name, _ in response.context["adminform"].model_admin.get_fieldsets(None, category)]
    assert headings == [
        None,
        "Priority and criticality",
        "Channels",
        "Caps",
        "Deduplication, bursts and digests",
        "Sample data",
    ]
    assert 'name="default_channels" value="email"' in page
    assert 'name="fallback_channels_push"' in page
    assert '\n  "author": "Ada"' in html.unescape(page)  # indented; jsonb orders keys its own way


def test_category_saves_channels_fallbacks_caps_and_sample_data(client, category):
    data = category_form_data(
        category,
        kind="security",
        priority="high",
        default_channels=["sms", "push"],
        fallback_channels_push="in_app",
        fallback_channels_sms="email",
        max_per_hour="5",
        max_per_day="20",
        over_cap_action="drop",
        burst_limit="3",
        burst_window_seconds="60",
        dedup_window_seconds="0",
        sample_data='{"code": "42",\n "author": "Ada"}',
    )

    response = client.post(reverse("admin:notifications_category_change", args=[category.pk]), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    category.refresh_from_db()
    assert category.kind == "security" and category.is_critical
    assert category.default_channels == ["sms", "push"]
    assert category.fallback_channels == {"push": "in_app", "sms": "email"}
    assert (category.max_per_hour, category.max_per_day, category.over_cap_action) == (5, 20, "drop")
    assert (category.burst_limit, category.burst_window_seconds, category.dedup_window_seconds) == (3, 60, 0)
    assert category.sample_data == {"code": "42", "author": "Ada"}


@pytest.mark.parametrize(
    ("sample_data", "error"),
    [
        ('["not", "an", "object"]', "Sample data must be a JSON object"),
        ('"text"', "Sample data must be a JSON object"),
        ('{"author": "Ada",}', "Enter a valid JSON"),
    ],
)
def test_category_sample_data_must_be_a_json_object(client, category, sample_data, error):
    response = client.post(
        reverse("admin:notifications_category_change", args=[category.pk]),
        category_form_data(category, sample_data=sample_data),
    )

    assert response.status_code == 200
    assert error in response.context["adminform"].form.errors["sample_data"][0]
    category.refresh_from_db()
    assert category.sample_data == SAMPLE


def test_category_sample_data_left_empty_is_an_empty_object(client, category):
    response = client.post(
        reverse("admin:notifications_category_change", args=[category.pk]), category_form_data(category, sample_data="")
    )

    assert response.status_code == 302
    category.refresh_from_db()
    assert category.sample_data == {}


def test_category_fallback_to_itself_is_not_offered_and_refused(client, category):
    page = client.get(reverse("admin:notifications_category_change", args=[category.pk])).content.decode()
    push_select = re.search(r'<select name="fallback_channels_push".*?</select>', page, re.S).group(0)
    assert 'value="push"' not in push_select

    response = client.post(
        reverse("admin:notifications_category_change", args=[category.pk]),
        category_form_data(category, fallback_channels_push="push"),
    )
    assert response.status_code == 200
    assert "fallback_channels" in response.context["adminform"].form.errors


def test_category_needs_a_default_channel(client, category):
    response = client.post(
        reverse("admin:notifications_category_change", args=[category.pk]),
        category_form_data(category, default_channels=[]),
    )

    assert response.status_code == 200
    assert "default_channels" in response.context["adminform"].form.errors


def test_category_shows_what_its_priority_means_and_links_its_digest_templates(client, category):
    category.kind = Category.Kind.SECURITY
    category.save()

    response = client.get(reverse("admin:notifications_category_change", args=[category.pk]))
    page = response.content.decode()

    assert "Critical: always sent" in page
    assert f"/admin/digests/digesttemplate/?category__id__exact={category.pk}" in page
