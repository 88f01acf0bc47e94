"""Input and output shapes of the notifications API. Validation only; no business rules."""

from __future__ import annotations

import json
import threading
from typing import Any

from rest_framework import serializers

from notifications.accept_insert import AcceptedNotification
from notifications.channels import ALL_CHANNELS
from notifications.models import Notification, Priority

MAX_RECIPIENTS = 1000
MAX_DATA_BYTES = 64 * 1024
MAX_DATA_DEPTH = 32


class RecipientField(serializers.Field):
    """A user id (number or digits), username or email address."""

    default_error_messages = {
        "invalid": "Each recipient is a user id, username or email address.",
        "too_long": "A recipient is at most 254 characters.",
        "null_characters": "A recipient cannot contain NUL characters.",
    }

    def to_internal_value(self, value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.fail("invalid")
        text = str(value).strip()
        if not text or (isinstance(value, int) and value <= 0):
            self.fail("invalid")
        if len(text) > 254:
            self.fail("too_long")
        if "\x00" in text:
            self.fail("null_characters")
        return text

    def to_representation(self, value: Any) -> str:
        return str(value)


def _check_json_value(value: Any, depth: int = 0) -> None:
    if depth > MAX_DATA_DEPTH:
        raise serializers.ValidationError(f"Data is nested more than {MAX_DATA_DEPTH} levels deep.")
    if isinstance(value, str):
        if "\x00" in value:
            raise serializers.ValidationError("Data cannot contain NUL characters.")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_json_value(key, depth + 1)
            _check_json_value(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json_value(item, depth + 1)


class DataField(serializers.Field):
    default_error_messages = {"not_object": "Data must be a JSON object."}

    def to_internal_value(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail("not_object")
        _check_json_value(value)
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
        if size > MAX_DATA_BYTES:
            raise serializers.ValidationError(f"Data is {size} bytes; the limit is {MAX_DATA_BYTES}.")
        return value

    def to_representation(self, value: Any) -> Any:
        return value


class NotificationCreateSerializer(serializers.Serializer):
    category = serializers.SlugField(max_length=100)
    recipients = serializers.ListField(child=RecipientField(), min_length=1, max_length=MAX_RECIPIENTS)
    data = DataField(required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    channels = serializers.ListField(
        child=serializers.ChoiceField(choices=ALL_CHANNELS),
        required=False,
        allow_empty=False,
        max_length=len(ALL_CHANNELS),
    )
    idempotency_key = serializers.CharField(max_length=255, required=False, allow_blank=False)
    # Repeats of a key for the same recipient and category within the category's window
    # collapse into the first. DRF's CharField already refuses NUL and lone surrogates.
    dedup_key = serializers.CharField(max_length=255, required=False, allow_blank=False)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        attrs = super().to_internal_value(data)  # refuses anything but an object
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown[:20]})
        return attrs


_per_thread = threading.local()


def notification_create_validate(body: Any) -> dict[str, Any]:
    """A send's body, validated; raises ValidationError naming each bad field.

    One serializer per thread serves every request: DRF deep-copies each declared field for
    every new serializer, an eighth of a single-recipient POST's CPU, and validating keeps no
    state on the serializer or its fields.
    """
    serializer = getattr(_per_thread, "notification_create", None)
    if serializer is None:
        serializer = _per_thread.notification_create = NotificationCreateSerializer()
    return serializer.run_validation(body)


class AttemptSerializer(serializers.Serializer):
    provider = serializers.CharField()
    outcome = serializers.CharField()
    error_code = serializers.CharField()
    error_message = serializers.CharField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField()


class DeliverySerializer(serializers.Serializer):
    channel = serializers.CharField()
    status = serializers.CharField()
    reason = serializers.CharField()
    provider = serializers.CharField()
    provider_message_id = serializers.CharField()
    scheduled_for = serializers.DateTimeField(allow_null=True)
    sent_at = serializers.DateTimeField(allow_null=True)
    attempts = AttemptSerializer(many=True)


class NotificationSummarySerializer(serializers.Serializer):
    """The schema of `notification_summaries`, which writes it without DRF's per-field work:
    an accept answers with one per recipient, up to a thousand."""

    id = serializers.UUIDField()
    recipient = serializers.IntegerField()
    status = serializers.CharField()


def notification_summaries(notifications: list[AcceptedNotification]) -> list[dict[str, Any]]:
    return [{"id": str(n.pk), "recipient": n.recipient_id, "status": n.status} for n in notifications]


class NotificationDetailSerializer(serializers.ModelSerializer):
    category = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    recipient = serializers.IntegerField(source="recipient_id")
    deliveries = DeliverySerializer(many=True)

    class Meta:
        model = Notification
        fields = ["id", "category", "recipient", "priority", "status", "data", "dedup_key", "created_at", "deliveries"]
