from django.contrib import admin

from preferences.models import NotificationSettings, Preference


@admin.register(NotificationSettings)
class NotificationSettingsAdmin(admin.ModelAdmin):
    list_display = ["user", "timezone", "locale", "phone_number", "digest_frequency", "updated_at"]
    list_filter = ["locale", "timezone", "digest_frequency"]
    search_fields = ["user__username", "user__email", "phone_number"]
    raw_id_fields = ["user"]


@admin.register(Preference)
class PreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "category", "channel", "enabled", "digest_frequency", "max_per_hour", "updated_at"]
    list_filter = ["channel", "enabled", "digest_frequency", "category"]
    search_fields = ["user__username", "user__email", "category__slug"]
    list_select_related = ["user", "category"]
    raw_id_fields = ["user"]
