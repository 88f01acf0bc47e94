"""Caps: how many messages of one category a user gets on one channel per window.

A category sets default caps per hour and per day and may set a burst limit over a short
window; a user may lower the hourly and daily caps for a category × channel. Windows are
fixed and aligned to the Unix epoch in UTC (the day cap is a UTC day), so every worker
maps a moment to the same window, and the same Redis counter, without coordinating.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

HOUR = 3600
DAY = 86400


@dataclass(frozen=True)
class CapLimits:
    per_hour: int | None = None
    per_day: int | None = None

    def lowered_by(self, other: CapLimits | None) -> CapLimits:
        """The stricter of two sets of caps: a user may lower a category's caps, not raise them."""
        if other is None:
            return self
        return CapLimits(_lower(self.per_hour, other.per_hour), _lower(self.per_day, other.per_day))


def _lower(first: int | None, second: int | None) -> int | None:
    if first is None:
        return second
    if second is None:
        return first
    return min(first, second)


@dataclass(frozen=True)
class Burst:
    """More than `limit` messages within `window_seconds` fold into a digest."""

    limit: int
    window_seconds: int


@dataclass(frozen=True)
class Window:
    """One counted window: at most `limit` sends per `seconds`."""

    seconds: int
    limit: int
    burst: bool = False

    def describe(self) -> str:
        if self.burst:
            return f"a burst of more than {self.limit} in {self.seconds} s"
        span = {HOUR: "hour", DAY: "day"}.get(self.seconds, f"{self.seconds} s")
        return f"the cap of {self.limit} per {span}"


def cap_windows(limits: CapLimits, burst: Burst | None) -> tuple[Window, ...]:
    """The windows to count, one per length; where two share a length the lower limit holds."""
    windows: dict[int, Window] = {}
    candidates = [
        Window(HOUR, limits.per_hour) if limits.per_hour is not None else None,
        Window(DAY, limits.per_day) if limits.per_day is not None else None,
        Window(burst.window_seconds, burst.limit, burst=True) if burst is not None else None,
    ]
    for window in candidates:
        if window is None:
            continue
        held = windows.get(window.seconds)
        if held is None or window.limit < held.limit:
            windows[window.seconds] = window
    return tuple(sorted(windows.values(), key=lambda w: w.seconds))


def window_index(moment: datetime, seconds: int) -> int:
    """Which window of `seconds` (counted from the epoch) contains `moment`."""
    return int(moment.timestamp()) // seconds


def window_end(moment: datetime, seconds: int) -> datetime:
    return datetime.fromtimestamp((window_index(moment, seconds) + 1) * seconds, tz=UTC)


def exceeded(windows: tuple[Window, ...], counts: Mapping[int, int]) -> list[Window]:
    """The windows already full: `counts` maps a window's length to the sends counted in it."""
    return [window for window in windows if counts.get(window.seconds, 0) >= window.limit]


def counter_expiry(moment: datetime, seconds: int) -> datetime:
    """When a window's counter may go: a minute after the window ends."""
    return window_end(moment, seconds) + timedelta(minutes=1)
