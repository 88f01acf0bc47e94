"""When a user's next digest is due: hourly on the local hour, daily at a local hour, weekly
on a local day and hour, across DST changes in both directions. No database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from preferences.digest_schedule import DAILY, HOURLY, WEEKLY, DigestSchedule, digest_next_due, digest_schedule
from preferences.validation import timezone_names


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(moment: datetime, zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(zone))


def test_off_and_unknown_frequencies_have_no_schedule():
    assert digest_schedule("off") is None
    assert digest_schedule("") is None
    assert digest_schedule("hourly", "Europe/Berlin") == DigestSchedule(HOURLY, "Europe/Berlin", 8, 0)


def test_hourly_digest_is_due_on_the_next_hour_strictly_after():
    schedule = DigestSchedule(HOURLY)

    assert digest_next_due(schedule, utc(2024, 5, 1, 10, 20)) == utc(2024, 5, 1, 11)
    assert digest_next_due(schedule, utc(2024, 5, 1, 11)) == utc(2024, 5, 1, 12)


def test_hourly_digest_follows_the_local_hour_in_a_quarter_hour_zone():
    # Kathmandu is UTC+05:45: its hours start at a quarter past the UTC hour.
    due = digest_next_due(DigestSchedule(HOURLY, "Asia/Kathmandu"), utc(2024, 5, 1, 10, 20))

    assert due == utc(2024, 5, 1, 11, 15)
    assert local(due, "Asia/Kathmandu").strftime("%H:%M") == "17:00"


def test_hourly_digest_skips_the_missing_hour_when_berlin_springs_forward():
    # 01:30 CET; 02:00 does not exist that night, the next local hour is 03:00 CEST.
    due = digest_next_due(DigestSchedule(HOURLY, "Europe/Berlin"), utc(2024, 3, 31, 0, 30))

    assert due == utc(2024, 3, 31, 1)
    assert local(due, "Europe/Berlin").strftime("%H:%M %Z") == "03:00 CEST"


def test_hourly_digest_comes_twice_in_the_repeated_hour_when_berlin_falls_back():
    schedule = DigestSchedule(HOURLY, "Europe/Berlin")

    first = digest_next_due(schedule, utc(2024, 10, 26, 23, 30))  # 01:30 CEST
    second = digest_next_due(schedule, first)
    third = digest_next_due(schedule, second)

    assert [local(t, "Europe/Berlin").strftime("%H:%M %Z") for t in (first, second, third)] == [
        "02:00 CEST",
        "02:00 CET",
        "03:00 CET",
    ]
    assert second - first == timedelta(hours=1)


def test_hourly_digest_is_on_the_local_hour_across_lord_howes_half_hour_shift():
    # Lord Howe falls back 30 minutes at 02:00 (+11:00 → +10:30) on 7 April 2024.
    schedule = DigestSchedule(HOURLY, "Australia/Lord_Howe")
    after = utc(2024, 4, 6, 14, 50)  # 01:50 +11:00

    due = digest_next_due(schedule, after)

    assert local(due, "Australia/Lord_Howe").minute == 0
    assert due == utc(2024, 4, 6, 15, 30)  # 02:00 +10:30, forty minutes later


def test_daily_digest_keeps_the_local_hour_across_berlins_spring_forward():
    schedule = DigestSchedule(DAILY, "Europe/Berlin", hour=8)

    saturday = digest_next_due(schedule, utc(2024, 3, 30, 0))
    sunday = digest_next_due(schedule, saturday)

    assert saturday == utc(2024, 3, 30, 7)  # 08:00 CET
    assert sunday == utc(2024, 3, 31, 6)  # 08:00 CEST
    assert sunday - saturday == timedelta(hours=23)


def test_daily_digest_at_a_missing_hour_goes_out_just_after_the_gap():
    due = digest_next_due(DigestSchedule(DAILY, "Europe/Berlin", hour=2), utc(2024, 3, 30, 12))

    assert due == utc(2024, 3, 31, 1)
    assert local(due, "Europe/Berlin").strftime("%H:%M %Z") == "03:00 CEST"


def test_daily_digest_at_a_repeated_hour_goes_out_once():
    schedule = DigestSchedule(DAILY, "Europe/Berlin", hour=2)

    first = digest_next_due(schedule, utc(2024, 10, 26, 12))
    following = digest_next_due(schedule, first)

    assert first == utc(2024, 10, 27, 0)  # the first 02:00, CEST
    assert following == utc(2024, 10, 28, 1)  # the next day's 02:00 CET, not the repeated 02:00


def test_daily_digest_in_new_york_across_the_fall_back():
    schedule = DigestSchedule(DAILY, "America/New_York", hour=8)

    saturday = digest_next_due(schedule, utc(2024, 11, 2, 0))
    sunday = digest_next_due(schedule, saturday)

    assert saturday == utc(2024, 11, 2, 12)  # 08:00 EDT
    assert sunday == utc(2024, 11, 3, 13)  # 08:00 EST
    assert sunday - saturday == timedelta(hours=25)


def test_weekly_digest_on_a_sunday_in_new_york_at_dst_changes():
    spring = DigestSchedule(WEEKLY, "America/New_York", hour=2, weekday=6)
    autumn = DigestSchedule(WEEKLY, "America/New_York", hour=1, weekday=6)

    # 2024-03-10: 02:00 does not exist; 2024-11-03: 01:00 happens twice.
    assert digest_next_due(spring, utc(2024, 3, 4, 12)) == utc(2024, 3, 10, 7)  # 03:00 EDT
    assert digest_next_due(autumn, utc(2024, 10, 28, 12)) == utc(2024, 11, 3, 5)  # the first 01:00, EDT
    assert digest_next_due(autumn, utc(2024, 11, 3, 5)) == utc(2024, 11, 10, 6)  # a week on, EST


def test_weekly_digest_due_on_its_day_is_next_week_once_the_hour_has_passed():
    schedule = DigestSchedule(WEEKLY, "Europe/Berlin", hour=8, weekday=0)
    monday_morning = utc(2024, 5, 6, 5)  # Monday 07:00 CEST

    assert digest_next_due(schedule, monday_morning) == utc(2024, 5, 6, 6)
    assert digest_next_due(schedule, utc(2024, 5, 6, 6)) == utc(2024, 5, 13, 6)


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(timezone_names()),
    after=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2037, 12, 31), timezones=st.just(UTC)),
    frequency=st.sampled_from([HOURLY, DAILY, WEEKLY]),
    hour=st.integers(0, 23),
    weekday=st.integers(0, 6),
)
def test_next_due_is_soon_after_and_on_the_local_schedule(zone, after, frequency, hour, weekday):
    schedule = DigestSchedule(frequency, zone, hour, weekday)

    due = digest_next_due(schedule, after)

    assert due > after
    local_due = due.astimezone(ZoneInfo(zone))
    if frequency == HOURLY:
        assert due - after <= timedelta(hours=2)
        assert local_due.minute == 0
    else:
        limit = timedelta(days=1, hours=2) if frequency == DAILY else timedelta(days=7, hours=2)
        assert due - after <= limit
        # The local hour is the schedule's, or just after it when that hour did not exist.
        assert local_due.hour in (hour, (hour + 1) % 24)
        if frequency == WEEKLY:
            # A gap at 23:00 pushes the digest past midnight into the next day.
            assert local_due.weekday() == weekday or (hour == 23 and local_due.hour == 0)


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"])
def test_hourly_digests_over_a_year_are_never_missed_or_doubled_in_utc(zone):
    schedule = DigestSchedule(HOURLY, zone)
    moment = utc(2024, 1, 1)
    dues = []
    while moment < utc(2025, 1, 1):
        moment = digest_next_due(schedule, moment)
        dues.append(moment)

    gaps = {b - a for a, b in pairwise(dues)}
    # A local hour lasts an hour, except where a 30-minute DST shift cuts or stretches one.
    assert gaps <= {timedelta(hours=1), timedelta(minutes=30), timedelta(minutes=90)}
    assert len(dues) in range(8780, 8790)
