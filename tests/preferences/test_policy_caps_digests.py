"""The policy's caps, bursts, digests and dedup, as pure functions. No database, no Redis:
the counts are plain data handed in by planning."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time

import pytest

from preferences.caps import DAY, HOUR, Burst, CapLimits, Window, cap_windows, exceeded, window_end, window_index
from preferences.digest_schedule import DAILY, HOURLY, DigestSchedule
from preferences.policy import (
    Action,
    CategoryRule,
    Recipient,
    counted_windows,
    decide,
    decide_single,
    send_time,
)
from preferences.quiet_hours import QuietHours

ALL = frozenset({"email", "sms", "push", "in_app"})
NOW = datetime(2024, 5, 1, 10, 20, tzinfo=UTC)
COMMENTS = CategoryRule(slug="comment_reply", required=False, default_channels=("email",), caps=CapLimits(3, 10))
SECURITY = CategoryRule(slug="password_reset", required=True, default_channels=("email",), caps=CapLimits(1, 1))


def recipient(sent: dict[int, int] | None = None, channel: str = "email", **fields) -> Recipient:
    counts = {("comment_reply", channel): sent} if sent else {}
    return Recipient(preferences={}, reachable_channels=ALL, sent=counts, **fields)


def one(category: CategoryRule, who: Recipient, channel: str = "email", now: datetime = NOW, **kwargs):
    [decision] = decide(category, [channel], who, now, **kwargs)
    return decision


# --- windows -------------------------------------------------------------------------------


def test_windows_are_aligned_to_the_epoch_in_utc():
    assert window_end(NOW, HOUR) == datetime(2024, 5, 1, 11, tzinfo=UTC)
    assert window_end(NOW, DAY) == datetime(2024, 5, 2, tzinfo=UTC)
    assert window_end(NOW, 300) == datetime(2024, 5, 1, 10, 25, tzinfo=UTC)
    assert window_index(NOW, HOUR) == window_index(datetime(2024, 5, 1, 10, 59, 59, tzinfo=UTC), HOUR)
    assert window_index(NOW, HOUR) + 1 == window_index(datetime(2024, 5, 1, 11, tzinfo=UTC), HOUR)


def test_windows_of_one_length_merge_keeping_the_lower_limit():
    windows = cap_windows(CapLimits(per_hour=5, per_day=20), Burst(limit=2, window_seconds=HOUR))

    assert windows == (Window(HOUR, 2, burst=True), Window(DAY, 20))
    assert exceeded(windows, {HOUR: 2, DAY: 3}) == [Window(HOUR, 2, burst=True)]


def test_a_user_can_lower_a_cap_but_not_raise_it():
    assert CapLimits(5, 50).lowered_by(CapLimits(2, None)) == CapLimits(2, 50)
    assert CapLimits(5, 50).lowered_by(CapLimits(10, 100)) == CapLimits(5, 50)
    assert CapLimits(None, None).lowered_by(CapLimits(4, None)) == CapLimits(4, None)


# --- caps ------------------------------------------------------------------------------------


def test_under_the_cap_sends_now():
    assert one(COMMENTS, recipient({HOUR: 2, DAY: 2})).action == Action.SEND_NOW


def test_over_the_hourly_cap_folds_into_a_digest_due_when_the_hour_ends():
    decision = one(COMMENTS, recipient({HOUR: 3, DAY: 3}))

    assert decision.action == Action.DIGEST
    assert decision.defer_until == datetime(2024, 5, 1, 11, tzinfo=UTC)
    assert decision.reason == (
        "over the cap of 3 per hour for comment_reply by email: folded into a digest due 2024-05-01T11:00:00+00:00"
    )


def test_over_both_caps_the_digest_waits_for_the_later_window():
    decision = one(COMMENTS, recipient({HOUR: 3, DAY: 10}))

    assert decision.action == Action.DIGEST
    assert decision.defer_until == datetime(2024, 5, 2, tzinfo=UTC)
    assert "the cap of 10 per day" in decision.reason


def test_a_category_that_drops_over_the_cap_throttles_with_a_reason():
    dropping = replace(COMMENTS, over_cap=Action.THROTTLE)

    decision = one(dropping, recipient({HOUR: 3}))

    assert decision.action == Action.THROTTLE
    assert decision.reason == "over the cap of 3 per hour for comment_reply by email: dropped"
    assert decision.defer_until is None


def test_a_users_lower_cap_applies_to_that_channel_only():
    who = recipient({HOUR: 1}, caps={("comment_reply", "email"): CapLimits(per_hour=1)})

    assert one(COMMENTS, who).action == Action.DIGEST
    assert one(COMMENTS, replace(who, sent={("comment_reply", "sms"): {HOUR: 1}}), "sms").action == Action.SEND_NOW


def test_a_users_higher_cap_does_not_raise_the_categorys():
    who = recipient({HOUR: 3}, caps={("comment_reply", "email"): CapLimits(per_hour=100)})

    assert one(COMMENTS, who).action == Action.DIGEST


def test_a_burst_folds_into_a_digest_due_when_the_burst_window_ends_even_where_caps_drop():
    bursty = replace(COMMENTS, caps=CapLimits(), burst=Burst(limit=2, window_seconds=300), over_cap=Action.THROTTLE)

    decision = one(bursty, recipient({300: 2}))

    assert decision.action == Action.DIGEST
    assert decision.defer_until == datetime(2024, 5, 1, 10, 25, tzinfo=UTC)
    assert "a burst of more than 2 in 300 s" in decision.reason


def test_required_categories_bypass_caps_and_digests():
    who = Recipient(
        preferences={},
        reachable_channels=ALL,
        sent={("password_reset", "email"): {HOUR: 50, DAY: 50}},
        digest=DigestSchedule(DAILY),
    )

    assert one(SECURITY, who).action == Action.SEND_NOW
    assert counted_windows(SECURITY, "email", who) == ()


def test_in_app_items_are_never_capped_or_digested():
    who = recipient({HOUR: 99, DAY: 99}, channel="in_app", digest=DigestSchedule(HOURLY))

    assert one(COMMENTS, who, "in_app").action == Action.SEND_NOW
    assert counted_windows(COMMENTS, "in_app", who) == ()


def test_counts_of_another_category_or_channel_do_not_apply():
    who = Recipient(
        preferences={},
        reachable_channels=ALL,
        sent={("newsletter", "email"): {HOUR: 99}, ("comment_reply", "sms"): {HOUR: 99}},
    )

    assert one(COMMENTS, who).action == Action.SEND_NOW


def test_an_opt_out_skips_before_caps_are_considered():
    who = replace(recipient({HOUR: 3}), preferences={("comment_reply", "email"): False})

    assert one(COMMENTS, who).action == Action.SKIP


# --- caps and quiet hours ------------------------------------------------------------------

QUIET_UNTIL_NOON = QuietHours(start=time(9), end=time(12), timezone="UTC")


def test_send_time_is_when_quiet_hours_end():
    assert send_time(recipient(quiet_hours=QUIET_UNTIL_NOON), NOW) == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert send_time(recipient(), NOW) == NOW


def test_quiet_hours_defer_a_message_with_room_in_the_window_it_will_be_sent_in():
    decision = one(COMMENTS, recipient({HOUR: 2}, quiet_hours=QUIET_UNTIL_NOON))

    assert decision.action == Action.DEFER
    assert decision.defer_until == datetime(2024, 5, 1, 12, tzinfo=UTC)


def test_a_backlog_held_by_quiet_hours_folds_into_a_digest_after_the_window_it_fills():
    # The counts are those of the 12:00 window, where the deferred sends will land.
    decision = one(COMMENTS, recipient({HOUR: 3}, quiet_hours=QUIET_UNTIL_NOON))

    assert decision.action == Action.DIGEST
    assert decision.defer_until == datetime(2024, 5, 1, 13, tzinfo=UTC)


# --- digest schedules ----------------------------------------------------------------------


def test_a_digest_frequency_folds_messages_into_the_next_digest():
    who = recipient(digest=DigestSchedule(DAILY, "Europe/Berlin", hour=8))

    decision = one(COMMENTS, who)

    assert decision.action == Action.DIGEST
    assert decision.defer_until == datetime(2024, 5, 2, 6, tzinfo=UTC)  # 08:00 CEST
    assert decision.reason == "added to the daily digest due 2024-05-02T06:00:00+00:00"


def test_a_category_channel_override_turns_the_default_digest_off():
    who = recipient(digest=DigestSchedule(DAILY), digests={("comment_reply", "email"): None})

    assert one(COMMENTS, who).action == Action.SEND_NOW
    assert one(COMMENTS, who, "sms").action == Action.DIGEST


def test_a_category_channel_override_digests_without_a_default():
    who = recipient(digests={("comment_reply", "email"): DigestSchedule(HOURLY)})

    decision = one(COMMENTS, who)

    assert decision.action == Action.DIGEST
    assert decision.defer_until == datetime(2024, 5, 1, 11, tzinfo=UTC)
    assert one(COMMENTS, who, "sms").action == Action.SEND_NOW


def test_muted_channels_are_skipped_not_digested():
    who = recipient(digest=DigestSchedule(DAILY), muted_channels=frozenset({"email"}))

    assert one(COMMENTS, who).action == Action.SKIP


# --- dedup ---------------------------------------------------------------------------------


def test_a_duplicate_is_skipped_on_every_channel_with_the_original_named():
    decisions = decide(COMMENTS, ["email", "sms", "in_app"], recipient(), NOW, duplicate_of="0b9c-original")

    assert {(d.channel, d.action, d.reason) for d in decisions} == {
        (channel, Action.SKIP, "duplicate of 0b9c-original") for channel in ("email", "sms", "in_app")
    }


def test_a_duplicate_adds_no_fallback_channel():
    with_fallback = replace(COMMENTS, fallbacks={"push": "in_app"})
    who = replace(recipient(), reachable_channels=frozenset({"in_app"}))

    decisions = decide(with_fallback, ["push"], who, NOW, duplicate_of="first")

    assert [(d.channel, d.action) for d in decisions] == [("push", Action.SKIP)]


# --- sending a due digest ------------------------------------------------------------------


def test_a_due_digest_is_sent_now_however_full_the_caps_and_whatever_the_schedule():
    who = recipient({HOUR: 99, DAY: 99}, digest=DigestSchedule(HOURLY))

    decision = decide_single(COMMENTS, "email", who, NOW)

    assert decision.action == Action.SEND_NOW


@pytest.mark.parametrize(
    ("change", "action"),
    [
        ({"quiet_hours": QUIET_UNTIL_NOON}, Action.DEFER),
        ({"muted_channels": frozenset({"email"})}, Action.SKIP),
        ({"preferences": {("comment_reply", "email"): False}}, Action.SKIP),
        ({"reachable_channels": frozenset({"in_app"})}, Action.SKIP),
    ],
)
def test_a_due_digest_respects_quiet_hours_mutes_opt_outs_and_addresses_as_they_are_now(change, action):
    decision = decide_single(COMMENTS, "email", replace(recipient(), **change), NOW)

    assert decision.action == action
