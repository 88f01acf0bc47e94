"""The template admin: per-channel fields, a live preview, versions and 'send a test to me'."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.urls import URLPattern, path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from notifications.admin_forms import TemplateAdminForm, TemplatePreviewForm
from notifications.admin_preview import template_preview
from notifications.admin_test_send import template_test_send
from notifications.admin_versions import template_content, template_version_record, template_version_restore
from notifications.models import Template, TemplateVersion
from notifications.rendering.render import CHANNEL_FIELDS
from notifications.services import AcceptError

PREVIEW_TEMPLATE = "admin/notifications/template/preview.html"
VERSIONS_SHOWN = 50


class TemplateAdmin(admin.ModelAdmin):
    form = TemplateAdminForm
    change_form_template = "admin/notifications/template/change_form.html"
    list_display = ["category", "channel", "locale", "updated_at"]
    list_filter = ["channel", "locale", "category"]
    search_fields = ["category__slug", "subject", "title", "body"]
    list_select_related = ["category"]
    fieldsets = [
        (None, {"fields": ["category", "channel", "locale"]}),
        (
            "Message",
            {
                "fields": ["subject", "title", "body", "html_body", "action_url"],
                "description": "Django template syntax. Variables: the category's sample data keys (also as "
                "data.KEY) and recipient.name, recipient.username, recipient.email. Fields the channel does not "
                "use are hidden and ignored.",
            },
        ),
    ]
    actions = ["send_test_to_me"]

    def get_urls(self) -> list[URLPattern]:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        own = [
            path("preview/", self.admin_site.admin_view(self.preview_view), name=f"{prefix}_preview"),
            path(
                "<path:object_id>/send-test/",
                self.admin_site.admin_view(self.send_test_view),
                name=f"{prefix}_send_test",
            ),
            path(
                "<path:object_id>/versions/<int:version_id>/restore/",
                self.admin_site.admin_view(self.restore_version_view),
                name=f"{prefix}_restore_version",
            ),
        ]
        return own + super().get_urls()

    # --- saving ----------------------------------------------------------------------------

    def save_model(self, request: HttpRequest, obj: Template, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        template_version_record(obj, request.user)

    # --- the change form -------------------------------------------------------------------

    def render_change_form(  # noqa: PLR0917 - ModelAdmin's signature
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Template | None = None,
    ) -> HttpResponse:
        form = context["adminform"].form
        # A form sent back with errors previews what was typed; otherwise the saved template.
        template = TemplatePreviewForm(form.data).template() if form.is_bound else obj
        versions = list(obj.versions.select_related("created_by")[:VERSIONS_SHOWN]) if obj is not None else []
        current = next((v for v in versions if v.content() == template_content(obj)), None) if obj is not None else None
        context.update(
            preview=template_preview(template) if template is not None else None,
            channel_fields={channel: list(fields) for channel, fields in CHANNEL_FIELDS.items()},
            versions=versions,
            current_version=current,
            can_restore=obj is not None and self.has_change_permission(request, obj),
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- views -----------------------------------------------------------------------------

    @method_decorator(require_POST)
    def preview_view(self, request: HttpRequest) -> HttpResponse:
        """The preview of the fields as typed (unsaved), as an HTML fragment for the form's script."""
        if not (self.has_add_permission(request) or self.has_change_permission(request)):
            raise PermissionDenied
        template = TemplatePreviewForm(request.POST).template()
        preview = template_preview(template) if template is not None else None
        return HttpResponse(render_to_string(PREVIEW_TEMPLATE, {"preview": preview}, request))

    @method_decorator(require_POST)
    def send_test_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        template = get_object_or_404(Template.objects.select_related("category"), pk=object_id)
        if not self.has_view_or_change_permission(request, template):
            raise PermissionDenied
        self._send_test(request, template)
        return HttpResponseRedirect(reverse("admin:notifications_template_change", args=[template.pk]))

    @method_decorator(require_POST)
    def restore_version_view(self, request: HttpRequest, object_id: str, version_id: int) -> HttpResponse:
        version = get_object_or_404(
            TemplateVersion.objects.select_related("template__category"), pk=version_id, template_id=object_id
        )
        if not self.has_change_permission(request, version.template):
            raise PermissionDenied
        try:
            restored = template_version_restore(version, request.user)
        except ValidationError as error:
            problems = "; ".join(f"{field}: {' '.join(texts)}" for field, texts in error.message_dict.items())
            messages.error(request, f"Version {version.number} was not restored: it no longer validates. {problems}")
        else:
            self.log_change(request, version.template, f"Restored version {version.number}.")
            messages.success(request, f"Restored version {version.number} as version {restored.number}.")
        return HttpResponseRedirect(reverse("admin:notifications_template_change", args=[object_id]))

    # --- actions ---------------------------------------------------------------------------

    @admin.action(description="Send a test of each selected template to me")
    def send_test_to_me(self, request: HttpRequest, queryset: QuerySet[Template]) -> None:
        for template in queryset.select_related("category"):
            self._send_test(request, template)

    def _send_test(self, request: HttpRequest, template: Template) -> None:
        try:
            notification = template_test_send(template, request.user)
        except AcceptError as error:
            messages.error(request, f"{template}: not sent: {error.message}")
            return
        url = reverse("admin:notifications_notification_change", args=[notification.pk])
        messages.success(
            request,
            format_html(
                '{}: sent a test to you as notification <a href="{}">{}</a>; its deliveries show how it went.',
                template,
                url,
                notification.pk,
            ),
        )
