"""Digest schedules: when a user's next digest is due, in their own zone.

Hourly digests go out on the local hour, daily ones at a local hour, weekly ones on a local
weekday and hour. All arithmetic happens on UTC instants, because wall-clock arithmetic in
a zone with DST skips or repeats hours. A local time that does not exist (a spring-forward
gap) is read with the offset in force before the change, so it lands just after the gap;
one that exists twice (a fall-back) is its first occurrence, so a daily digest is sent once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

OFF = "off"
HOURLY = "hourly"
DAILY = "daily"
WEEKLY = "weekly"
FREQUENCIES = (OFF, HOURLY, DAILY, WEEKLY)

# Every zone's offset is a multiple of 15 minutes (Asia/Kathmandu is +05:45).
_QUARTER_HOUR = timedelta(minutes=15)


@dataclass(frozen=True)
class DigestSchedule:
    frequency: str  # HOURLY, DAILY or WEEKLY; "no digest" is no schedule at all
    timezone: str = "UTC"
    hour: int = 8  # local hour of daily and weekly digests
    weekday: int = 0  # Monday = 0, for weekly digests


def digest_schedule(frequency: str, timezone: str = "UTC", hour: int = 8, weekday: int = 0) -> DigestSchedule | None:
    """The schedule for a stored frequency; None for "off" (or empty)."""
    if frequency not in (HOURLY, DAILY, WEEKLY):
        return None
    return DigestSchedule(frequency=frequency, timezone=timezone, hour=hour, weekday=weekday)


def _next_local_hour(after: datetime, zone: ZoneInfo) -> datetime:
    # Step through UTC quarter hours until one is on the hour locally: at most four steps,
    # a few more where a 30-minute DST shift (Australia/Lord_Howe) moves the local minute.
    candidate = after - timedelta(minutes=after.minute % 15, seconds=after.second, microseconds=after.microsecond)
    for _ in range(16):
        candidate += _QUARTER_HOUR
        if candidate.astimezone(zone).minute == 0:
            return candidate
    raise ValueError(f"no local hour boundary within four hours of {after.isoformat()} in {zone.key}")


def digest_next_due(schedule: DigestSchedule, after: datetime) -> datetime:
    """The first UTC instant strictly after `after` at which the digest is due."""
    zone = ZoneInfo(schedule.timezone)
    after = after.astimezone(UTC)
    if schedule.frequency == HOURLY:
        return _next_local_hour(after, zone)
    local_day = after.astimezone(zone).date()
    for offset in range(9):
        day = local_day + timedelta(days=offset)
        if schedule.frequency == WEEKLY and day.weekday() != schedule.weekday:
            continue
        due = datetime.combine(day, time(schedule.hour), tzinfo=zone).astimezone(UTC)
        if due > after:
            return due
    raise ValueError(f"unknown digest frequency {schedule.frequency!r}")
