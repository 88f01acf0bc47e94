"""Forms behind the category and template admin."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from notifications.channels import ALL_CHANNELS, Channel
from notifications.models import Category, Template

CHANNEL_LABELS = dict(Channel.choices)
TEXT_AREA = {"class": "vLargeTextField clarion-code", "spellcheck": "false"}


class SampleDataField(forms.JSONField):
    """A JSON object, shown indented; empty means {}."""

    default_error_messages = {"not_an_object": 'Sample data must be a JSON object, e.g. {"author": "Ada"}.'}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.Textarea(attrs={**TEXT_AREA, "rows": 12}))
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Any:
        if value in self.empty_values:
            return {}
        return super().to_python(value)

    def validate(self, value: Any) -> None:
        super().validate(value)
        if not isinstance(value, dict):
            raise ValidationError(self.error_messages["not_an_object"], code="not_an_object")

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, InvalidJSONInput):
            return value
        return json.dumps(value, ensure_ascii=False, indent=2, cls=self.encoder)


class FallbackChannelsWidget(forms.MultiWidget):
    """One select per channel: which channel takes over when it cannot reach the user."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        widgets = {
            channel: forms.Select(
                choices=[("", "no fallback")]
                + [(other, CHANNEL_LABELS[other]) for other in ALL_CHANNELS if other != channel]
            )
            for channel in ALL_CHANNELS
        }
        super().__init__(widgets, attrs)

    def decompress(self, value: Any) -> list[str]:
        mapping = value if isinstance(value, dict) else {}
        return [mapping.get(channel, "") for channel in ALL_CHANNELS]

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        values = value if isinstance(value, list) else self.decompress(value)
        base_id = (attrs or {}).get("id", f"id_{name}")
        rows = []
        for channel, widget, current in zip(ALL_CHANNELS, self.widgets, values, strict=True):
            widget_id = f"{base_id}_{channel}"
            html = widget.render(f"{name}_{channel}", current, {"id": widget_id}, renderer)
            rows.append((widget_id, CHANNEL_LABELS[channel], html))
        cells = format_html_join("", '<tr><th><label for="{}">{}</label></th><td>→ {}</td></tr>', rows)
        return format_html('<table class="clarion-fallbacks">{}</table>', cells)


class FallbackChannelsField(forms.MultiValueField):
    widget = FallbackChannelsWidget

    def __init__(self, **kwargs: Any) -> None:
        fields = [forms.ChoiceField(choices=[("", ""), *Channel.choices], required=False) for _ in ALL_CHANNELS]
        super().__init__(fields, require_all_fields=False, required=False, **kwargs)

    def compress(self, data_list: list[str]) -> dict[str, str]:
        return {channel: fallback for channel, fallback in zip(ALL_CHANNELS, data_list or [], strict=False) if fallback}


class CategoryAdminForm(forms.ModelForm):
    default_channels = forms.MultipleChoiceField(
        choices=Channel.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="Channels used when a request names none.",
    )
    fallback_channels = FallbackChannelsField(
        help_text="When a channel cannot reach the user (no address, opted out) or fails for good, "
        "the message goes once on its fallback instead."
    )
    sample_data = SampleDataField(
        help_text="A JSON object with a value for every variable the templates use: they are checked and "
        "previewed with it, and “send a test to me” sends it."
    )

    class Meta:
        model = Category
        fields = [
            "slug",
            "name",
            "description",
            "enabled",
            "kind",
            "priority",
            "required",
            "default_channels",
            "fallback_channels",
            "max_per_hour",
            "max_per_day",
            "over_cap_action",
            "dedup_window_seconds",
            "burst_limit",
            "burst_window_seconds",
            "sample_data",
        ]


class TemplateAdminForm(forms.ModelForm):
    class Meta:
        model = Template
        fields = ["category", "channel", "locale", "subject", "title", "body", "html_body", "action_url"]
        widgets = {
            "subject": forms.TextInput(attrs={"class": "vLargeTextField clarion-code"}),
            "title": forms.TextInput(attrs={"class": "vLargeTextField clarion-code"}),
            "action_url": forms.TextInput(attrs={"class": "vLargeTextField clarion-code"}),
            "body": forms.Textarea(attrs={**TEXT_AREA, "rows": 8}),
            "html_body": forms.Textarea(attrs={**TEXT_AREA, "rows": 12}),
        }
        help_texts = {
            "subject": "Email: the subject line.",
            "title": "Push and in-app: the title.",
            "body": "Email: the text part. SMS: the message. Push and in-app: the body.",
            "html_body": "Email: the HTML part (values are HTML-escaped). Empty for text-only email.",
            "action_url": "In-app: where opening the item goes.",
        }


class TemplatePreviewForm(forms.Form):
    """The template fields as typed, unsaved; the preview renders them."""

    category = forms.ModelChoiceField(queryset=Category.objects.all())
    channel = forms.ChoiceField(choices=Channel.choices)
    subject = forms.CharField(required=False, strip=False)
    title = forms.CharField(required=False, strip=False)
    body = forms.CharField(required=False, strip=False)
    html_body = forms.CharField(required=False, strip=False)
    action_url = forms.CharField(required=False, strip=False)

    def template(self) -> Template | None:
        """The unsaved template, or None without a valid category and channel."""
        if not self.is_valid():
            return None
        return Template(**self.cleaned_data)
