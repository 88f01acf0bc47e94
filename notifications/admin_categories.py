"""The category admin: channel defaults, priority and criticality, caps, dedup, bursts and
digests, fallback channels and the sample data templates are checked with."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.forms import BaseInlineFormSet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from notifications.admin_forms import CategoryAdminForm, TemplateAdminForm
from notifications.admin_versions import template_version_record
from notifications.models import Category, Priority, Template


class TemplateInline(admin.StackedInline):
    model = Template
    form = TemplateAdminForm
    extra = 0
    fields = ["channel", "locale", "subject", "title", "body", "html_body", "action_url"]
    show_change_link = True
    verbose_name_plural = "templates (open one for its preview, versions and “send a test to me”)"


class CategoryAdmin(admin.ModelAdmin):
    form = CategoryAdminForm
    list_display = ["slug", "name", "kind", "priority", "required", "default_channels", "enabled"]
    list_filter = ["kind", "priority", "required", "enabled"]
    search_fields = ["slug", "name", "description"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["in_effect", "digest_templates"]
    inlines = [TemplateInline]
    fieldsets = [
        (None, {"fields": ["slug", "name", "description", "enabled"]}),
        (
            "Priority and criticality",
            {
                "fields": ["kind", "priority", "required", "in_effect"],
                "description": "Security categories are critical: always sent, and never behind bulk traffic. "
                "Required categories bypass opt-outs, mutes, pauses, quiet hours and caps.",
            },
        ),
        ("Channels", {"fields": ["default_channels", "fallback_channels"]}),
        (
            "Caps",
            {
                "fields": ["max_per_hour", "max_per_day", "over_cap_action"],
                "description": "Per user and channel; users may set lower caps of their own.",
            },
        ),
        (
            "Deduplication, bursts and digests",
            {"fields": ["dedup_window_seconds", "burst_limit", "burst_window_seconds", "digest_templates"]},
        ),
        ("Sample data", {"fields": ["sample_data"]}),
    ]

    @admin.display(description="In effect")
    def in_effect(self, obj: Category | None) -> str:
        if obj is None or obj.pk is None:
            return "Shown once saved."
        if obj.is_critical:
            return "Critical: always sent, on the critical path ahead of bulk traffic."
        ahead = " on the critical path" if obj.priority == Priority.HIGH else ""
        if obj.is_required:
            return f"Required: always sent{ahead}, whatever the user's preferences."
        return f"Optional: sent{ahead} as the user's preferences, quiet hours and caps allow."

    @admin.display(description="Digest templates")
    def digest_templates(self, obj: Category | None) -> SafeString | str:
        if obj is None or obj.pk is None:
            return "Shown once saved."
        changelist = reverse("admin:digests_digesttemplate_changelist")
        add = reverse("admin:digests_digesttemplate_add")
        count = obj.digest_templates.count()
        return format_html(
            '<a href="{}?category__id__exact={}">{} digest template{}</a> · <a href="{}?category={}">add one</a> '
            "— how a digest of this category reads; without one a plain list is sent.",
            changelist,
            obj.pk,
            count,
            "" if count == 1 else "s",
            add,
            obj.pk,
        )

    def save_formset(self, request: HttpRequest, form: Any, formset: BaseInlineFormSet, change: bool) -> None:
        saved = formset.save()
        # Templates edited here are versioned as on their own page.
        if formset.model is Template:
            for template in saved:
                template_version_record(template, request.user)
