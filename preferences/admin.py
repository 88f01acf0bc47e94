from typing import Any

from django import forms
from django.contrib import admin

from preferences.models import NotificationSettings, Preference
from preferences.validation import SettingsError, clean_phone_number, clean_timezone


class NotificationSettingsForm(forms.ModelForm):
    """Staff edits pass the same validation as the page and the API (E.164 phones, IANA zones)."""

    class Meta:
        model = NotificationSettings
        exclude: list[str] = []

    def _settings_clean(self, cleaner: Any, field: str) -> str:
        try:
            return cleaner(self.cleaned_data.get(field))
        except SettingsError as error:
            raise forms.ValidationError(error.fields[field]) from error

    def clean_phone_number(self) -> str:
        return self._settings_clean(clean_phone_number, "phone_number")

    def clean_timezone(self) -> str:
        return self._settings_clean(clean_timezone, "timezone")


class PreferenceForm(forms.ModelForm):
    class Meta:
        model = Preference
        exclude: list[str] = []

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        category = cleaned.get("category")
        for field in ("max_per_hour", "max_per_day"):
            ceiling = getattr(category, field, None)
            value = cleaned.get(field)
            if value is not None and ceiling is not None and value > ceiling:
                self.add_error(field, f"The category allows at most {ceiling}; a user's cap can only lower it.")
        return cleaned


@admin.register(NotificationSettings)
class NotificationSettingsAdmin(admin.ModelAdmin):
    form = NotificationSettingsForm
    list_display = ["user", "timezone", "locale", "phone_number", "digest_frequency", "updated_at"]
    list_filter = ["locale", "timezone", "digest_frequency"]
    search_fields = ["user__username", "user__email", "phone_number"]
    raw_id_fields = ["user"]


@admin.register(Preference)
class PreferenceAdmin(admin.ModelAdmin):
    form = PreferenceForm
    list_display = [
        "user",
        "category",
        "channel",
        "enabled",
        "digest_frequency",
        "max_per_hour",
        "max_per_day",
        "updated_at",
    ]
    list_filter = ["channel", "enabled", "digest_frequency", "category"]
    search_fields = ["user__username", "user__email", "category__slug"]
    list_select_related = ["user", "category"]
    raw_id_fields = ["user"]
