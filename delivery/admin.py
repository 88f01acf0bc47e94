from django.contrib import admin
from django.http import HttpRequest

from delivery.models import Delivery, DeliveryAttempt, Device, OutboxMessage


class ReadOnlyAdmin(admin.ModelAdmin):
    """The delivery log is written by the pipeline only."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ["provider", "outcome", "error_code", "error_message", "started_at", "finished_at"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["id", "notification", "channel", "status", "provider", "reason", "updated_at"]
    list_filter = ["status", "channel", "provider", "queue", "created_at"]
    search_fields = [
        "=id",
        "notification__id",
        "notification__recipient__username",
        "notification__recipient__email",
        "provider_message_id",
    ]
    list_select_related = ["notification__category"]
    inlines = [DeliveryAttemptInline]
    date_hierarchy = "created_at"


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ReadOnlyAdmin):
    list_display = ["delivery", "provider", "outcome", "error_code", "started_at", "finished_at"]
    list_filter = ["outcome", "provider"]
    search_fields = ["=delivery__id", "error_code", "error_message"]


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ["user", "platform", "active", "last_seen_at"]
    list_filter = ["platform", "active"]
    search_fields = ["user__username", "user__email"]
    raw_id_fields = ["user"]


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "channel", "to", "subject"]
    list_filter = ["channel"]
    search_fields = ["to", "subject", "body", "reference"]
