"""What a template will look like on its channel, for the admin's live preview.

Rendered with the category's sample data for the sample recipient, like validation. Each
channel gets the numbers that decide whether it arrives as meant: an SMS's encoding and
segment count (billed per segment), a push's payload size against FCM's limit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from delivery.sms_segments import GSM7_BASIC, GSM7_EXTENSION, SmsEncoding, sms_segments
from notifications.channels import Channel
from notifications.models import Template
from notifications.rendering import (
    SAMPLE_RECIPIENT,
    RenderError,
    build_context,
    render_part,
    template_problems,
    template_sample_data,
)
from notifications.rendering.render import CHANNEL_FIELDS

# FCM refuses a message whose notification and data payload exceed 4096 bytes.
PUSH_PAYLOAD_LIMIT_BYTES = 4096
# The data every push carries besides its text (delivery.sending.outgoing_message): ids as
# long as real ones, so the size is what FCM will count.
PUSH_DATA_SAMPLE = {"notification_id": "00000000-0000-0000-0000-000000000000", "delivery_id": "9" * 12}


@dataclass(frozen=True)
class SmsSummary:
    characters: int
    encoding: SmsEncoding
    segments: int
    non_gsm_characters: tuple[str, ...]  # what forced UCS-2, if it was forced


@dataclass(frozen=True)
class PushSummary:
    payload_bytes: int
    limit_bytes: int = PUSH_PAYLOAD_LIMIT_BYTES

    @property
    def over_limit_by(self) -> int:
        return max(0, self.payload_bytes - self.limit_bytes)


@dataclass(frozen=True)
class TemplatePreview:
    channel: str
    category: str
    required: bool  # required categories' emails carry no unsubscribe link
    parts: dict[str, str] = field(default_factory=dict)
    problems: dict[str, list[str]] = field(default_factory=dict)
    sms: SmsSummary | None = None
    push: PushSummary | None = None


def sms_summary(text: str) -> SmsSummary:
    encoding, segments = sms_segments(text)
    gsm = GSM7_BASIC | GSM7_EXTENSION
    non_gsm = tuple(dict.fromkeys(char for char in text if char not in gsm))
    return SmsSummary(characters=len(text), encoding=encoding, segments=segments, non_gsm_characters=non_gsm)


def push_payload_bytes(title: str, body: str, data: dict[str, str]) -> int:
    """The size of a push's notification and data as FCM receives them (JSON, UTF-8), the
    shape delivery.providers.fcm builds."""
    payload = {"notification": {"title": title, "body": body}, "data": data}
    return len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())


def template_preview(template: Template) -> TemplatePreview:
    """Render the (possibly unsaved) template; a field that fails is left out of `parts` and
    its problems are listed, so the rest still shows."""
    context = build_context(template_sample_data(template), SAMPLE_RECIPIENT)
    parts = {}
    for name in CHANNEL_FIELDS.get(template.channel, ()):
        source = getattr(template, name)
        if source:
            try:
                parts[name] = render_part(name, source, context)
            except RenderError:
                continue
    category = getattr(template, "category", None)
    sms = sms_summary(parts.get("body", "")) if template.channel == Channel.SMS else None
    push = None
    if template.channel == Channel.PUSH:
        push = PushSummary(push_payload_bytes(parts.get("title", ""), parts.get("body", ""), PUSH_DATA_SAMPLE))
    return TemplatePreview(
        channel=template.channel,
        category=str(category) if category is not None else "",
        required=bool(category is not None and category.is_required),
        parts=parts,
        problems=template_problems(template),
        sms=sms,
        push=push,
    )
