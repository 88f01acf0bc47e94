"""The preferences API's bodies as OpenAPI describes them. The view reads and writes the
plain shapes of `preferences_update` and `PreferencesSnapshot.as_json`, so these serializers
only describe; tests/test_api_schema.py checks that answers match them."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema_field
from rest_framework import serializers

from notifications.channels import ALL_CHANNELS, Channel
from preferences.category_choices import MAX_CAP
from preferences.models import DigestFrequency

CHANNEL_NAMES = ", ".join(ALL_CHANNELS)
CAP_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_CAP, "nullable": True}
CHOICE_OBJECT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "enabled": {"type": "boolean"},
        "digest": {
            "type": "string",
            "enum": [*DigestFrequency.values, None],
            "nullable": True,
            "description": "A digest frequency, or null for the user's default.",
        },
        "max_per_hour": {**CAP_SCHEMA, "description": "The user's own cap; it may only lower the category's."},
        "max_per_day": {**CAP_SCHEMA, "description": "The user's own cap; it may only lower the category's."},
    },
    "additionalProperties": False,
}


@extend_schema_field(
    {
        "type": "object",
        "description": f"Category slug → channel ({CHANNEL_NAMES}) → `true`, `false`, or an object naming any of "
        "`enabled`, `digest`, `max_per_hour` and `max_per_day`. Required categories take only `true`.",
        "additionalProperties": {
            "type": "object",
            "additionalProperties": {"oneOf": [{"type": "boolean"}, CHOICE_OBJECT_SCHEMA]},
        },
    }
)
class CategoryChoicesField(serializers.DictField):
    pass


class QuietHoursSerializer(serializers.Serializer):
    start = serializers.CharField(help_text="Local time, HH:MM.")
    end = serializers.CharField(help_text="Local time, HH:MM; before the start wraps midnight.")
    days = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6),
        help_text="Weekdays they apply on, 0 (Monday) to 6 (Sunday); all by default.",
    )


class QuietHoursInputSerializer(QuietHoursSerializer):
    days = serializers.ListField(child=serializers.IntegerField(min_value=0, max_value=6), required=False)


class DigestSerializer(serializers.Serializer):
    frequency = serializers.ChoiceField(choices=DigestFrequency.choices)
    hour = serializers.IntegerField(min_value=0, max_value=23, help_text="Local hour digests go out.")
    weekday = serializers.IntegerField(min_value=0, max_value=6, help_text="Day weekly digests go out, 0 is Monday.")


class DigestInputSerializer(DigestSerializer):
    frequency = serializers.ChoiceField(choices=DigestFrequency.choices, required=False)
    hour = serializers.IntegerField(min_value=0, max_value=23, required=False)
    weekday = serializers.IntegerField(min_value=0, max_value=6, required=False)


class ChannelOverridesSerializer(serializers.Serializer):
    digest = serializers.ChoiceField(choices=DigestFrequency.choices, allow_null=True)
    max_per_hour = serializers.IntegerField(allow_null=True)
    max_per_day = serializers.IntegerField(allow_null=True)


class CategoryCapsSerializer(serializers.Serializer):
    max_per_hour = serializers.IntegerField(allow_null=True)
    max_per_day = serializers.IntegerField(allow_null=True)


class CategoryPreferencesSerializer(serializers.Serializer):
    name = serializers.CharField()
    required = serializers.BooleanField(help_text="Always on, never digested or capped.")
    channels = serializers.DictField(
        child=serializers.BooleanField(), help_text=f"On or off per channel ({CHANNEL_NAMES})."
    )
    overrides = serializers.DictField(
        child=ChannelOverridesSerializer(),
        help_text="The user's digest frequency and own caps per channel (null: not set).",
    )
    category_caps = CategoryCapsSerializer(help_text="The category's own caps (null: none).")


class PreferencesSerializer(serializers.Serializer):
    timezone = serializers.CharField()
    locale = serializers.CharField()
    email = serializers.CharField(help_text="The user's account email.")
    phone_number = serializers.CharField(help_text="E.164; empty for none.")
    quiet_hours = QuietHoursSerializer(allow_null=True)
    muted_channels = serializers.ListField(child=serializers.ChoiceField(choices=Channel.choices))
    paused_until = serializers.DateTimeField(allow_null=True)
    digest = DigestSerializer()
    categories = serializers.DictField(child=CategoryPreferencesSerializer(), help_text="By category slug.")


class PreferencesUpdateSerializer(serializers.Serializer):
    timezone = serializers.CharField(required=False, help_text="An IANA time zone such as Europe/Paris.")
    locale = serializers.CharField(required=False, min_length=2, max_length=10, help_text="A language tag: en, pt-BR.")
    phone_number = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, help_text="With its country code; empty or null for none."
    )
    quiet_hours = QuietHoursInputSerializer(required=False, allow_null=True, help_text="null for none.")
    muted_channels = serializers.ListField(child=serializers.ChoiceField(choices=Channel.choices), required=False)
    paused_until = serializers.DateTimeField(
        required=False, allow_null=True, help_text="With its offset; null to resume."
    )
    digest = DigestInputSerializer(required=False)
    categories = CategoryChoicesField(required=False)


UPDATE_EXAMPLE = OpenApiExample(
    "evenings off, fewer emails",
    request_only=True,
    value={
        "timezone": "Europe/Paris",
        "phone_number": "+33612345678",
        "quiet_hours": {"start": "22:00", "end": "07:00", "days": [0, 1, 2, 3, 4]},
        "muted_channels": ["sms"],
        "paused_until": None,
        "digest": {"frequency": "daily", "hour": 8, "weekday": 0},
        "categories": {
            "comment_reply": {"email": False, "push": {"enabled": True, "digest": "hourly", "max_per_day": 5}}
        },
    },
)
_CHANNELS_OFF = {channel: {"digest": None, "max_per_hour": None, "max_per_day": None} for channel in ALL_CHANNELS}
SNAPSHOT_EXAMPLE = OpenApiExample(
    "preferences",
    response_only=True,
    value={
        "timezone": "Europe/Paris",
        "locale": "en",
        "email": "ada@example.com",
        "phone_number": "+33612345678",
        "quiet_hours": {"start": "22:00", "end": "07:00", "days": [0, 1, 2, 3, 4]},
        "muted_channels": ["sms"],
        "paused_until": None,
        "digest": {"frequency": "daily", "hour": 8, "weekday": 0},
        "categories": {
            "comment_reply": {
                "name": "Comment reply",
                "required": False,
                "channels": {"email": False, "sms": True, "push": True, "in_app": True},
                "overrides": {**_CHANNELS_OFF, "push": {"digest": "hourly", "max_per_hour": None, "max_per_day": 5}},
                "category_caps": {"max_per_hour": None, "max_per_day": 20},
            }
        },
    },
)
