"""The preference policy: who gets what, where. Plain functions over plain data.

Given a category, the channels asked for, the user's choices and which channels can reach
the user, decide per channel. Quiet hours, caps and digests extend this module (issue 4);
the decision shape already carries what they need.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime


class Action(enum.StrEnum):
    SEND_NOW = "send_now"
    DEFER = "defer"
    DIGEST = "digest"
    THROTTLE = "throttle"
    SKIP = "skip"


@dataclass(frozen=True)
class CategoryRule:
    slug: str
    required: bool
    default_channels: tuple[str, ...]


@dataclass(frozen=True)
class Recipient:
    """What the policy needs to know of one user."""

    preferences: Mapping[tuple[str, str], bool]  # (category slug, channel) -> enabled
    reachable_channels: frozenset[str]


@dataclass(frozen=True)
class Decision:
    channel: str
    action: Action
    reason: str
    defer_until: datetime | None = None


def channels_for(category: CategoryRule, requested: Iterable[str]) -> tuple[str, ...]:
    """A request's own channel list replaces the category's defaults."""
    chosen = tuple(dict.fromkeys(requested))
    return chosen or category.default_channels


UNREACHABLE_REASONS = {
    "email": "recipient has no email address",
    "sms": "recipient has no phone number",
    "push": "recipient has no active device",
}


def decide(category: CategoryRule, channels: Iterable[str], recipient: Recipient) -> list[Decision]:
    decisions = []
    for channel in channels:
        if channel not in recipient.reachable_channels:
            reason = UNREACHABLE_REASONS.get(channel, f"recipient cannot be reached on {channel}")
            decisions.append(Decision(channel, Action.SKIP, reason))
        elif category.required:
            decisions.append(Decision(channel, Action.SEND_NOW, f"{category.slug} is required"))
        elif not recipient.preferences.get((category.slug, channel), True):
            decisions.append(Decision(channel, Action.SKIP, f"recipient opted out of {category.slug} by {channel}"))
        else:
            decisions.append(Decision(channel, Action.SEND_NOW, "enabled"))
    return decisions
