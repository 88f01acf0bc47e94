from django.contrib import admin

from preferences.models import NotificationSettings, Preference


@admin.register(NotificationSettings)
class NotificationSettingsAdmin(admin.ModelAdmin):
    list_display = ["user", "timezone", "locale", "phone_number", "updated_at"]
    list_filter = ["locale", "timezone"]
    search_fields = ["user__username", "user__email", "phone_number"]
    raw_id_fields = ["user"]


@admin.register(Preference)
class PreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "category", "channel", "enabled", "updated_at"]
    list_filter = ["channel", "enabled", "category"]
    search_fields = ["user__username", "user__email", "category__slug"]
    list_select_related = ["user", "category"]
    raw_id_fields = ["user"]
