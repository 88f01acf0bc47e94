"""The preference policy: who gets what, where and when. Plain functions over plain data.

For each channel a notification could use, `decide` returns one Decision with a reason
that is stored on the delivery. The order of the rules is the policy:

1. a repeat of a dedup key within the category's window is skipped on every channel;
2. a channel that cannot reach the user is skipped (even for required categories);
3. required categories (security codes, receipts) are sent now, whatever else is set;
4. a global mute of the channel, then a category × channel opt-out, skip it;
5. in-app items are stored now (they are the inbox, itself a digest of sorts): never
   digested or capped, and pushed silently during a pause or quiet hours;
6. a digest frequency for the category × channel folds it into the next digest;
7. a full cap window (per hour, per day, or the category's burst window) folds it into a
   digest due when that window ends, or drops it (`throttle`) if the category says so;
   bursts always fold. The counts are those of the window the message would be sent in,
   which is after quiet hours end for a deferred one: a night's backlog cannot flood the
   morning;
8. a pause ("snooze") defers it to the pause's end, quiet hours to the window's end;
9. otherwise it is sent now.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from preferences.caps import Burst, CapLimits, Window, cap_windows, exceeded, window_end
from preferences.digest_schedule import DigestSchedule, digest_next_due
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
    caps: CapLimits = field(default_factory=CapLimits)
    burst: Burst | None = None
    over_cap: Action = Action.DIGEST  # DIGEST or THROTTLE


@dataclass(frozen=True)
class Recipient:
    """What the policy needs to know of one user."""

    preferences: Mapping[tuple[str, str], bool]  # (category slug, channel) -> enabled
    reachable_channels: frozenset[str]
    muted_channels: frozenset[str] = frozenset()
    paused_until: datetime | None = None
    quiet_hours: QuietHours | None = None
    # The user's own caps per (category slug, channel); they can only lower the category's.
    caps: Mapping[tuple[str, str], CapLimits] = field(default_factory=dict)
    # Sends counted per (category slug, channel) in the windows containing `send_time()`,
    # by window length in seconds.
    sent: Mapping[tuple[str, str], Mapping[int, int]] = field(default_factory=dict)
    # The user's digest schedule for every category, and per (category slug, channel)
    # overrides of it (None there turns a default digest off for that pair).
    digest: DigestSchedule | None = None
    digests: Mapping[tuple[str, str], DigestSchedule | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    channel: str
    action: Action
    reason: str
    # DEFER: when to send. DIGEST: when the digest it joins is due.
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
    quiet_end = quiet_window_end(now, recipient.quiet_hours)
    if quiet_end is not None:
        return quiet_end, f"quiet hours until {quiet_end.isoformat()}"
    return None


def send_time(recipient: Recipient, now: datetime) -> datetime:
    """When a non-required message to this user would be sent: now, or when a pause or
    quiet hours end. Caps count in the windows containing this moment."""
    quiet = _quiet_until(recipient, now)
    return quiet[0] if quiet else now


def counted_windows(category: CategoryRule, channel: str, recipient: Recipient) -> tuple[Window, ...]:
    """The cap windows a send on this channel counts in; none for required categories and
    in-app items, which caps never hold back."""
    if category.required or channel == IN_APP:
        return ()
    limits = category.caps.lowered_by(recipient.caps.get((category.slug, channel)))
    return cap_windows(limits, category.burst)


def digest_schedule_for(category: CategoryRule, channel: str, recipient: Recipient) -> DigestSchedule | None:
    key = (category.slug, channel)
    if key in recipient.digests:
        return recipient.digests[key]
    return recipient.digest


def _over_cap(category: CategoryRule, channel: str, full: list[Window], at: datetime) -> Decision:
    worst = max(full, key=lambda w: window_end(at, w.seconds))
    why = f"over {worst.describe()} for {category.slug} by {channel}"
    if category.over_cap == Action.THROTTLE and any(not w.burst for w in full):
        return Decision(channel, Action.THROTTLE, f"{why}: dropped")
    due = window_end(at, worst.seconds)
    return Decision(channel, Action.DIGEST, f"{why}: folded into a digest due {due.isoformat()}", defer_until=due)


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
    if channel == IN_APP:
        if quiet is None:
            return Decision(channel, Action.SEND_NOW, "enabled")
        return Decision(channel, Action.SEND_NOW, f"stored now, pushed silently: {quiet[1]}", silent=True)
    schedule = digest_schedule_for(category, channel, recipient)
    if schedule is not None:
        due = digest_next_due(schedule, now)
        return Decision(
            channel, Action.DIGEST, f"added to the {schedule.frequency} digest due {due.isoformat()}", defer_until=due
        )
    at = quiet[0] if quiet else now
    full = exceeded(counted_windows(category, channel, recipient), recipient.sent.get((category.slug, channel), {}))
    if full:
        return _over_cap(category, channel, full, at)
    if quiet is None:
        return Decision(channel, Action.SEND_NOW, "enabled")
    until, why = quiet
    return Decision(channel, Action.DEFER, f"deferred: {why}", defer_until=until)


def decide(
    category: CategoryRule,
    channels: Iterable[str],
    recipient: Recipient,
    now: datetime | None = None,
    duplicate_of: str | None = None,
) -> list[Decision]:
    """One decision per channel, plus one per fallback channel standing in for a channel
    that cannot reach the user (unless that channel was chosen anyway).

    `duplicate_of` names an earlier notification with the same dedup key, recipient and
    category within the category's window: the caller asked for repeats to collapse.
    """
    now = now or datetime.now(UTC)
    channels = list(channels)
    if duplicate_of is not None:
        return [Decision(channel, Action.SKIP, f"duplicate of {duplicate_of}") for channel in channels]
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


def decide_single(category: CategoryRule, channel: str, recipient: Recipient, now: datetime) -> Decision:
    """One channel decided outside a notification's own plan — a due digest, or a fallback
    after a channel failed for good: as any message would be now (a mute, an opt-out or a
    lost address skips it; quiet hours defer it), but never digested or capped again."""
    uncapped = replace(category, caps=CapLimits(), burst=None)
    return decide_channel(uncapped, channel, replace(recipient, digest=None, digests={}), now)
