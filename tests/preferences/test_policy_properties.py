"""Property-based tests of the policy over random zones, windows and moments."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import available_timezones

from hypothesis import given, settings
from hypothesis import strategies as st

from preferences.policy import Action, CategoryRule, Recipient, decide
from preferences.quiet_hours import QuietHours, quiet_window_end

ZONES = sorted(available_timezones() - {"Factory", "localtime"})
DST_ZONES = ["America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "America/Santiago", "Asia/Tehran"]

moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC))
quarter_hours = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
quiet_hours = st.builds(
    QuietHours,
    start=quarter_hours,
    end=quarter_hours,
    timezone=st.one_of(st.sampled_from(DST_ZONES), st.sampled_from(ZONES)),
    days=st.frozensets(st.integers(0, 6), min_size=1),
)
# A window is at most a day long in wall time; a DST change can add at most one hour.
LONGEST_WINDOW = timedelta(hours=25)


@settings(max_examples=400, deadline=None)
@given(now=moments, quiet=quiet_hours)
def test_deferred_time_is_after_now_and_at_most_a_day_away(now, quiet):
    end = quiet_window_end(now, quiet)
    if end is not None:
        assert now < end <= now + LONGEST_WINDOW


@settings(max_examples=400, deadline=None)
@given(now=moments, quiet=quiet_hours)
def test_redeciding_at_the_deferred_time_never_defers_to_the_same_moment(now, quiet):
    end = quiet_window_end(now, quiet)
    if end is not None:
        again = quiet_window_end(end, quiet)
        # Either the user may be reached at the window's end, or a later window has begun.
        assert again is None or again > end


@settings(max_examples=200, deadline=None)
@given(now=moments, quiet=quiet_hours, paused_for=st.integers(0, 10_000), opted_out=st.booleans())
def test_required_categories_always_pass_where_the_user_is_reachable(now, quiet, paused_for, opted_out):
    rule = CategoryRule(slug="security_code", required=True, default_channels=("email", "sms"))
    recipient = Recipient(
        preferences={("security_code", "email"): not opted_out, ("security_code", "sms"): not opted_out},
        reachable_channels=frozenset({"email"}),
        muted_channels=frozenset({"email", "sms"}),
        paused_until=now + timedelta(minutes=paused_for),
        quiet_hours=quiet,
    )
    email, sms = decide(rule, ("email", "sms"), recipient, now)
    assert email.action == Action.SEND_NOW
    assert sms.action == Action.SKIP and sms.reason == "recipient has no phone number"


@settings(max_examples=200, deadline=None)
@given(now=moments, quiet=quiet_hours)
def test_a_non_required_delivery_inside_quiet_hours_is_deferred_to_the_window_end(now, quiet):
    rule = CategoryRule(slug="comment_reply", required=False, default_channels=("push", "in_app"))
    recipient = Recipient(preferences={}, reachable_channels=frozenset({"push", "in_app"}), quiet_hours=quiet)
    push, in_app = decide(rule, rule.default_channels, recipient, now)
    end = quiet_window_end(now, quiet)
    if end is None:
        assert push.action == Action.SEND_NOW and not in_app.silent
    else:
        assert push.action == Action.DEFER and push.defer_until == end
        assert in_app.action == Action.SEND_NOW and in_app.silent
