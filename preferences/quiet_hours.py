"""Quiet-hours maths: is a moment inside a user's quiet window, and when does it end?

Windows are defined in the user's local time (IANA zone) and may wrap midnight; `days`
are the weekdays (Monday = 0) on which a window starts. All comparisons happen in UTC,
because aware datetimes sharing a tzinfo compare by wall clock, which is wrong across DST.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ALL_DAYS = frozenset(range(7))


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time
    timezone: str = "UTC"
    days: frozenset[int] = ALL_DAYS

    @property
    def wraps_midnight(self) -> bool:
        return self.end <= self.start


def _window(quiet: QuietHours, start_day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    end_day = start_day + timedelta(days=1) if quiet.wraps_midnight else start_day
    start = datetime.combine(start_day, quiet.start, tzinfo=zone).astimezone(UTC)
    end = datetime.combine(end_day, quiet.end, tzinfo=zone).astimezone(UTC)
    return start, end


def quiet_window_end(now: datetime, quiet: QuietHours | None) -> datetime | None:
    """The UTC moment the quiet window containing `now` ends, or None if `now` is not quiet.

    A window end that falls in a DST gap (a local time that does not exist) is read with
    the offset in force before the change, so it lands just after the gap.
    """
    if quiet is None or quiet.start == quiet.end:
        return None
    zone = ZoneInfo(quiet.timezone)
    now_utc = now.astimezone(UTC)
    today = now_utc.astimezone(zone).date()
    for start_day in (today - timedelta(days=1), today):
        if start_day.weekday() not in quiet.days:
            continue
        start, end = _window(quiet, start_day, zone)
        if start <= now_utc < end:
            return end
    return None
