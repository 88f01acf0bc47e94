from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from delivery.cancelling import scheduled_cancel
from delivery.dead_letters import dead_letters_retry
from delivery.models import Delivery, DeliveryAttempt, Device, OutboxMessage, ProviderHealth
from delivery.tasks import deliveries_publish


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
    fields = ["provider", "outcome", "latency", "error_code", "error_message", "note", "started_at", "finished_at"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="latency")
    def latency(self, attempt: DeliveryAttempt) -> str:
        return attempt_latency(attempt)


def attempt_latency(attempt: DeliveryAttempt) -> str:
    if attempt.started_at is None or attempt.finished_at is None:
        return "-"
    return f"{(attempt.finished_at - attempt.started_at).total_seconds() * 1000:.0f} ms"


class DeadLetterFilter(admin.SimpleListFilter):
    title = "dead letters"
    parameter_name = "dead_letter"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Dead letters (failed)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(status=Delivery.Status.FAILED)
        return queryset


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["id", "notification", "channel", "status", "provider", "reason", "updated_at"]
    list_filter = [DeadLetterFilter, "status", "channel", "provider", "notification__category", "queue", "created_at"]
    search_fields = [
        "=id",
        "notification__id",
        "notification__recipient__username",
        "notification__recipient__email",
        "content__to",
        "provider_message_id",
    ]
    list_select_related = ["notification__category"]
    inlines = [DeliveryAttemptInline]
    date_hierarchy = "created_at"
    actions = ["retry_dead_letters", "cancel_scheduled"]

    @admin.action(description="Retry selected dead letters")
    def retry_dead_letters(self, request: HttpRequest, queryset: QuerySet) -> None:
        routes = dead_letters_retry(queryset.values_list("pk", flat=True), retried_by=request.user.get_username())
        deliveries_publish(routes)
        count = sum(len(ids) for ids in routes.values())
        skipped = queryset.count() - count
        messages.success(request, f"Re-queued {count} failed deliveries; left {skipped} that were not failed alone.")

    @admin.action(description="Cancel selected scheduled deliveries")
    def cancel_scheduled(self, request: HttpRequest, queryset: QuerySet) -> None:
        cancelled = scheduled_cancel(queryset.values_list("pk", flat=True), cancelled_by=request.user.get_username())
        skipped = queryset.count() - cancelled
        messages.success(request, f"Cancelled {cancelled} scheduled deliveries; {skipped} were not scheduled.")


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ReadOnlyAdmin):
    list_display = ["delivery", "provider", "outcome", "latency", "error_code", "started_at", "finished_at"]
    list_filter = ["outcome", "provider"]
    search_fields = ["=delivery__id", "error_code", "error_message"]

    @admin.display(description="latency")
    def latency(self, attempt: DeliveryAttempt) -> str:
        return attempt_latency(attempt)


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


@admin.register(ProviderHealth)
class ProviderHealthAdmin(ReadOnlyAdmin):
    """Each provider's circuit breaker as of its last change (the live state is in Redis)."""

    list_display = ["provider", "state", "weight", "successes", "failures", "detail", "changed_at"]
    list_filter = ["state"]

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
