from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils import timezone

from delivery.models import Delivery
from notifications.api_keys import api_key_create
from notifications.models import ApiKey, Category, InboxItem, Notification, NotificationRequest, Template


class TemplateInline(admin.StackedInline):
    model = Template
    extra = 0
    fields = ["channel", "locale", "subject", "title", "body", "html_body", "action_url"]


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "kind", "priority", "default_channels", "enabled"]
    list_filter = ["kind", "priority", "enabled"]
    search_fields = ["slug", "name", "description"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [TemplateInline]


@admin.register(Template)
class TemplateAdmin(admin.ModelAdmin):
    list_display = ["category", "channel", "locale", "updated_at"]
    list_filter = ["channel", "locale", "category"]
    search_fields = ["category__slug", "subject", "title", "body"]
    list_select_related = ["category"]


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
        messages.success(request, f"Revoked {count} keys.")


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    can_delete = False
    fields = ["channel", "status", "reason", "provider", "provider_message_id", "sent_at"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


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
