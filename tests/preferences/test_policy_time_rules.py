"""Mutes, pauses and quiet hours in the policy, by example."""

from datetime import UTC, datetime, time, timedelta

from preferences.policy import Action, CategoryRule, Recipient, decide
from preferences.quiet_hours import QuietHours

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SOCIAL = CategoryRule(slug="comment_reply", required=False, default_channels=("email", "sms", "in_app"))
EVERYWHERE = frozenset({"email", "sms", "push", "in_app"})


def _decide(**recipient_fields):
    recipient = Recipient(preferences={}, reachable_channels=EVERYWHERE, **recipient_fields)
    return {d.channel: d for d in decide(SOCIAL, SOCIAL.default_channels, recipient, NOW)}


def test_a_muted_channel_is_skipped_for_every_category_with_the_reason():
    decisions = _decide(muted_channels=frozenset({"sms"}))
    assert decisions["sms"].action == Action.SKIP
    assert decisions["sms"].reason == "recipient muted sms"
    assert decisions["email"].action == Action.SEND_NOW


def test_a_pause_defers_to_its_end_and_keeps_in_app_silent():
    until = NOW + timedelta(hours=3)
    decisions = _decide(paused_until=until)
    assert decisions["email"].action == Action.DEFER
    assert decisions["email"].defer_until == until
    assert decisions["email"].reason.startswith("deferred: paused until")
    assert decisions["in_app"].action == Action.SEND_NOW
    assert decisions["in_app"].silent


def test_a_pause_that_has_ended_changes_nothing():
    decisions = _decide(paused_until=NOW - timedelta(seconds=1))
    assert {d.action for d in decisions.values()} == {Action.SEND_NOW}


def test_quiet_hours_defer_to_the_local_end_of_the_window():
    quiet = QuietHours(start=time(20, 0), end=time(8, 0), timezone="Asia/Tokyo")  # NOW is 21:00 in Tokyo
    decisions = _decide(quiet_hours=quiet)
    assert decisions["email"].action == Action.DEFER
    assert decisions["email"].defer_until == datetime(2026, 6, 1, 23, 0, tzinfo=UTC)  # 08:00 JST
    assert "quiet hours" in decisions["email"].reason


def test_an_opt_out_wins_over_quiet_hours():
    recipient = Recipient(
        preferences={("comment_reply", "email"): False},
        reachable_channels=EVERYWHERE,
        quiet_hours=QuietHours(start=time(0, 0), end=time(23, 59)),
    )
    email = decide(SOCIAL, ["email"], recipient, NOW)[0]
    assert email.action == Action.SKIP
    assert "opted out" in email.reason


def test_an_unreachable_channel_falls_back_to_the_categorys_fallback_channel():
    rule = CategoryRule(
        slug="order_shipped", required=False, default_channels=("push", "sms"), fallbacks={"push": "in_app"}
    )
    recipient = Recipient(preferences={}, reachable_channels=frozenset({"sms", "in_app"}))
    decisions = {d.channel: d for d in decide(rule, rule.default_channels, recipient, NOW)}
    assert decisions["push"].action == Action.SKIP
    assert decisions["in_app"].action == Action.SEND_NOW
    assert decisions["in_app"].reason == "fallback for push (recipient has no active device): enabled"


def test_no_fallback_when_the_fallback_channel_was_chosen_anyway_or_the_user_opted_out():
    rule = CategoryRule(slug="c", required=False, default_channels=("push", "in_app"), fallbacks={"push": "in_app"})
    recipient = Recipient(preferences={}, reachable_channels=frozenset({"in_app"}))
    assert [d.channel for d in decide(rule, rule.default_channels, recipient, NOW)] == ["push", "in_app"]
    opted_out = Recipient(preferences={("c", "push"): False}, reachable_channels=frozenset({"push", "in_app"}))
    assert [d.channel for d in decide(rule, ["push"], opted_out, NOW)] == ["push"]
