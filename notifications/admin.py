from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from delivery.admin import attempt_latency
from delivery.models import Delivery
from notifications.admin_categories import CategoryAdmin
from notifications.admin_templates import TemplateAdmin
from notifications.api_keys import api_key_create
from notifications.lookup_cache import lookup_caches_clear
from notifications.models import ApiKey, Category, InboxItem, Notification, NotificationRequest, Template

admin.site.register(Category, CategoryAdmin)
admin.site.register(Template, TemplateAdmin)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix"]
    fields = ["name", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    actions = ["revoke"]

    def save_model(self, request: HttpRequest, obj: ApiKey, form: object, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created, raw_key = api_key_create(obj.name)
        obj.pk, obj.prefix, obj.key_hash, obj.created_at = (
            created.pk,
            created.prefix,
            created.key_hash,
            created.created_at,
        )
        messages.warning(request, f"The new key is {raw_key} — copy it now; it is not shown again.")

    @admin.action(description="Revoke selected keys")
    def revoke(self, request: HttpRequest, queryset: object) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        lookup_caches_clear()  # update() sends no signals
        messages.success(request, f"Revoked {count} keys.")


class DeliveryInline(admin.TabularInline):
    """Every delivery of the notification, its decision reason and every attempt, so one
    page answers "what happened to this notification, and why"."""

    model = Delivery
    extra = 0
    can_delete = False
    fields = ["channel", "status", "reason", "provider", "provider_message_id", "sent_at", "attempt_log"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("attempts")

    @admin.display(description="attempts")
    def attempt_log(self, delivery: Delivery) -> str:
        attempts = sorted(delivery.attempts.all(), key=lambda attempt: attempt.pk)
        if not attempts:
            return "-"
        return format_html(
            "<ol class='attempts'>{}</ol>",
            format_html_join(
                "",
                "<li>{} · {} · {}{}</li>",
                (
                    (
                        attempt.provider,
                        attempt.outcome,
                        attempt_latency(attempt),
                        f" · {attempt.error_code} {attempt.error_message}"[:300] if attempt.error_code else "",
                    )
                    for attempt in attempts
                ),
            ),
        )


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["id", "category", "recipient", "priority", "status", "created_at"]
    list_filter = ["status", "priority", "category", "created_at"]
    search_fields = ["id", "recipient__username", "recipient__email", "category__slug"]
    list_select_related = ["category", "recipient"]
    readonly_fields = [
        "id",
        "request",
        "category",
        "recipient",
        "data",
        "priority",
        "channels",
        "status",
        "created_at",
        "updated_at",
    ]
    inlines = [DeliveryInline]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(NotificationRequest)
class NotificationRequestAdmin(admin.ModelAdmin):
    list_display = ["id", "api_key", "idempotency_key", "created_at"]
    search_fields = ["idempotency_key"]
    list_filter = ["api_key"]
    readonly_fields = ["api_key", "idempotency_key", "body_hash", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(InboxItem)
class InboxItemAdmin(admin.ModelAdmin):
    list_display = ["title", "user", "category", "created_at", "seen_at", "read_at", "archived_at"]
    list_filter = ["category", "read_at", "archived_at"]
    search_fields = ["title", "user__username", "user__email"]
    list_select_related = ["user", "category"]
    raw_id_fields = ["user", "notification"]
