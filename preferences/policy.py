"""The preference policy: who gets what, where and when. Plain functions over plain data.

For each channel a notification could use, `decide` returns one Decision with a reason
that is stored on the delivery. The order of the rules is the policy:

1. a channel that cannot reach the user is skipped (even for required categories);
2. required categories (security codes, receipts) are sent now, whatever else is set;
3. a global mute of the channel, then a category × channel opt-out, skip it;
4. a pause ("snooze") defers it to the pause's end;
5. quiet hours defer it to the window's end in the user's zone;
6. otherwise it is sent now.

In-app items are never deferred: they are stored at once, and during a pause or quiet
hours their live push is marked `silent` so an open tab updates without interrupting.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from preferences.quiet_hours import QuietHours, quiet_window_end

IN_APP = "in_app"


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
    # Where to go instead when a channel cannot reach the user, e.g. {"push": "in_app"}.
    fallbacks: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Recipient:
    """What the policy needs to know of one user."""

    preferences: Mapping[tuple[str, str], bool]  # (category slug, channel) -> enabled
    reachable_channels: frozenset[str]
    muted_channels: frozenset[str] = frozenset()
    paused_until: datetime | None = None
    quiet_hours: QuietHours | None = None


@dataclass(frozen=True)
class Decision:
    channel: str
    action: Action
    reason: str
    defer_until: datetime | None = None
    silent: bool = False


def channels_for(category: CategoryRule, requested: Iterable[str]) -> tuple[str, ...]:
    """A request's own channel list replaces the category's defaults."""
    chosen = tuple(dict.fromkeys(requested))
    return chosen or category.default_channels


UNREACHABLE_REASONS = {
    "email": "recipient has no email address",
    "sms": "recipient has no phone number",
    "push": "recipient has no active device",
}


def _quiet_until(recipient: Recipient, now: datetime) -> tuple[datetime, str] | None:
    """When the user may be interrupted again, and why not before; None if now is fine."""
    if recipient.paused_until is not None and recipient.paused_until > now:
        return recipient.paused_until, f"paused until {recipient.paused_until.isoformat()}"
    window_end = quiet_window_end(now, recipient.quiet_hours)
    if window_end is not None:
        return window_end, f"quiet hours until {window_end.isoformat()}"
    return None


def decide_channel(category: CategoryRule, channel: str, recipient: Recipient, now: datetime) -> Decision:
    if channel not in recipient.reachable_channels:
        reason = UNREACHABLE_REASONS.get(channel, f"recipient cannot be reached on {channel}")
        return Decision(channel, Action.SKIP, reason)
    if category.required:
        return Decision(channel, Action.SEND_NOW, f"{category.slug} is required")
    if channel in recipient.muted_channels:
        return Decision(channel, Action.SKIP, f"recipient muted {channel}")
    if not recipient.preferences.get((category.slug, channel), True):
        return Decision(channel, Action.SKIP, f"recipient opted out of {category.slug} by {channel}")
    quiet = _quiet_until(recipient, now)
    if quiet is None:
        return Decision(channel, Action.SEND_NOW, "enabled")
    until, why = quiet
    if channel == IN_APP:
        return Decision(channel, Action.SEND_NOW, f"stored now, pushed silently: {why}", silent=True)
    return Decision(channel, Action.DEFER, f"deferred: {why}", defer_until=until)


def decide(
    category: CategoryRule, channels: Iterable[str], recipient: Recipient, now: datetime | None = None
) -> list[Decision]:
    """One decision per channel, plus one per fallback channel standing in for a channel
    that cannot reach the user (unless that channel was chosen anyway)."""
    now = now or datetime.now(UTC)
    channels = list(channels)
    decisions = [decide_channel(category, channel, recipient, now) for channel in channels]
    chosen = set(channels)
    for decision in list(decisions):
        fallback = category.fallbacks.get(decision.channel)
        unreachable = decision.action == Action.SKIP and decision.channel not in recipient.reachable_channels
        if unreachable and fallback and fallback not in chosen:
            chosen.add(fallback)
            stand_in = decide_channel(category, fallback, recipient, now)
            reason = f"fallback for {decision.channel} ({decision.reason}): {stand_in.reason}"
            decisions.append(Decision(fallback, stand_in.action, reason, stand_in.defer_until, stand_in.silent))
    return decisions
