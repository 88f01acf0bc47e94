from datetime import UTC, datetime, time

from preferences.quiet_hours import QuietHours, quiet_window_end

NIGHT_PARIS = QuietHours(start=time(22, 0), end=time(7, 0), timezone="Europe/Paris")


def test_inside_a_window_that_wraps_midnight_defers_to_local_morning():
    # 23:30 in Paris (UTC+1 in January) is 22:30 UTC; the window ends at 07:00 Paris = 06:00 UTC.
    now = datetime(2026, 1, 15, 22, 30, tzinfo=UTC)
    assert quiet_window_end(now, NIGHT_PARIS) == datetime(2026, 1, 16, 6, 0, tzinfo=UTC)


def test_after_midnight_belongs_to_the_window_that_started_the_evening_before():
    now = datetime(2026, 1, 16, 3, 0, tzinfo=UTC)  # 04:00 in Paris
    assert quiet_window_end(now, NIGHT_PARIS) == datetime(2026, 1, 16, 6, 0, tzinfo=UTC)


def test_outside_the_window_sends_now():
    assert quiet_window_end(datetime(2026, 1, 16, 12, 0, tzinfo=UTC), NIGHT_PARIS) is None


def test_window_end_is_exclusive_and_start_inclusive():
    assert quiet_window_end(datetime(2026, 1, 16, 6, 0, tzinfo=UTC), NIGHT_PARIS) is None
    assert quiet_window_end(datetime(2026, 1, 16, 21, 0, tzinfo=UTC), NIGHT_PARIS) is not None


def test_quiet_hours_defer_until_local_morning_across_spring_forward():
    # Paris springs forward on 2026-03-29 at 02:00 -> 03:00. The night of the 28th starts at
    # 22:00 CET (21:00 UTC) and ends at 07:00 CEST (05:00 UTC): a 8-hour window, not 9.
    now = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert quiet_window_end(now, NIGHT_PARIS) == datetime(2026, 3, 29, 5, 0, tzinfo=UTC)


def test_quiet_hours_defer_until_local_morning_across_fall_back():
    # Paris falls back on 2026-10-25 at 03:00 -> 02:00; 07:00 CET is 06:00 UTC.
    now = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert quiet_window_end(now, NIGHT_PARIS) == datetime(2026, 10, 25, 6, 0, tzinfo=UTC)


def test_window_ending_inside_a_dst_gap_ends_just_after_it():
    # New York springs forward on 2026-03-08 at 02:00 -> 03:00; 02:30 does not exist.
    quiet = QuietHours(start=time(23, 0), end=time(2, 30), timezone="America/New_York")
    now = datetime(2026, 3, 8, 5, 0, tzinfo=UTC)  # 00:00 EST
    end = quiet_window_end(now, quiet)
    assert end == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # 03:30 EDT


def test_only_windows_starting_on_chosen_days_count():
    weeknights = QuietHours(start=time(22, 0), end=time(7, 0), timezone="UTC", days=frozenset(range(5)))
    friday_night = datetime(2026, 1, 16, 23, 0, tzinfo=UTC)  # a Friday: its window starts
    saturday_night = datetime(2026, 1, 17, 23, 0, tzinfo=UTC)
    sunday_small_hours = datetime(2026, 1, 18, 3, 0, tzinfo=UTC)  # belongs to Saturday's window
    assert quiet_window_end(friday_night, weeknights) == datetime(2026, 1, 17, 7, 0, tzinfo=UTC)
    assert quiet_window_end(saturday_night, weeknights) is None
    assert quiet_window_end(sunday_small_hours, weeknights) is None


def test_same_day_window_and_empty_window():
    lunch = QuietHours(start=time(12, 0), end=time(13, 0), timezone="Asia/Tokyo")
    assert quiet_window_end(datetime(2026, 5, 1, 3, 30, tzinfo=UTC), lunch) == datetime(2026, 5, 1, 4, 0, tzinfo=UTC)
    assert quiet_window_end(datetime(2026, 5, 1, 3, 30, tzinfo=UTC), QuietHours(time(1), time(1))) is None
    assert quiet_window_end(datetime(2026, 5, 1, 3, 30, tzinfo=UTC), None) is None
