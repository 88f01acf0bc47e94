"""The preference policy as pure functions: opt-outs, required categories, reachability and
channel selection. No database."""

from __future__ import annotations

from preferences.policy import Action, CategoryRule, Decision, Recipient, channels_for, decide

ALL = frozenset({"email", "sms", "push", "in_app"})
SOCIAL = CategoryRule(slug="comment_reply", required=False, default_channels=("email", "in_app"))
SECURITY = CategoryRule(slug="password_reset", required=True, default_channels=("email", "sms"))


def recipient(reachable: frozenset[str] = ALL, **preferences: bool) -> Recipient:
    """`recipient(comment_reply__email=False)` opts out of comment_reply by email."""
    choices = {tuple(key.split("__")): enabled for key, enabled in preferences.items()}
    return Recipient(preferences=choices, reachable_channels=reachable)


def by_channel(decisions: list[Decision]) -> dict[str, Decision]:
    return {d.channel: d for d in decisions}


def test_everything_enabled_sends_now_on_each_channel():
    decisions = decide(SOCIAL, ["email", "in_app"], recipient())

    assert [(d.channel, d.action, d.reason) for d in decisions] == [
        ("email", Action.SEND_NOW, "enabled"),
        ("in_app", Action.SEND_NOW, "enabled"),
    ]
    assert all(d.defer_until is None for d in decisions)


def test_opt_out_skips_that_channel_only_with_a_reason():
    decisions = by_channel(decide(SOCIAL, ["email", "in_app"], recipient(comment_reply__email=False)))

    assert decisions["email"].action == Action.SKIP
    assert decisions["email"].reason == "recipient opted out of comment_reply by email"
    assert decisions["in_app"].action == Action.SEND_NOW


def test_opt_out_of_another_category_does_not_apply():
    decisions = decide(SOCIAL, ["email"], recipient(newsletter__email=False))

    assert decisions[0].action == Action.SEND_NOW


def test_explicit_opt_in_sends():
    decisions = decide(SOCIAL, ["email"], recipient(comment_reply__email=True))

    assert decisions[0].action == Action.SEND_NOW


def test_required_category_bypasses_opt_out():
    decisions = by_channel(
        decide(SECURITY, ["email", "sms"], recipient(password_reset__email=False, password_reset__sms=False))
    )

    assert decisions["email"].action == Action.SEND_NOW
    assert decisions["sms"].action == Action.SEND_NOW
    assert decisions["email"].reason == "password_reset is required"


def test_required_category_never_bypasses_addressability():
    decisions = by_channel(decide(SECURITY, ["email", "sms"], recipient(reachable=frozenset({"email", "in_app"}))))

    assert decisions["email"].action == Action.SEND_NOW
    assert decisions["sms"].action == Action.SKIP
    assert decisions["sms"].reason == "recipient has no phone number"


def test_unreachable_channels_are_skipped_with_a_reason_each():
    decisions = by_channel(
        decide(SOCIAL, ["email", "sms", "push", "in_app"], recipient(reachable=frozenset({"in_app"})))
    )

    assert {c: (d.action, d.reason) for c, d in decisions.items()} == {
        "email": (Action.SKIP, "recipient has no email address"),
        "sms": (Action.SKIP, "recipient has no phone number"),
        "push": (Action.SKIP, "recipient has no active device"),
        "in_app": (Action.SEND_NOW, "enabled"),
    }


def test_unreachable_wins_over_opt_out_in_the_reason():
    decisions = decide(SOCIAL, ["sms"], recipient(reachable=frozenset({"email"}), comment_reply__sms=False))

    assert decisions[0].reason == "recipient has no phone number"


def test_unknown_channel_is_skipped_with_a_generic_reason():
    decisions = decide(SOCIAL, ["pigeon"], recipient())

    assert (decisions[0].action, decisions[0].reason) == (Action.SKIP, "recipient cannot be reached on pigeon")


def test_no_channels_means_no_decisions():
    assert decide(SOCIAL, [], recipient()) == []


def test_decisions_keep_the_order_of_the_channels():
    channels = ["in_app", "push", "email", "sms"]

    assert [d.channel for d in decide(SOCIAL, channels, recipient())] == channels


def test_requested_channels_override_the_category_defaults():
    assert channels_for(SOCIAL, ["sms"]) == ("sms",)
    assert channels_for(SOCIAL, ["push", "sms"]) == ("push", "sms")


def test_no_requested_channels_means_the_category_defaults():
    assert channels_for(SOCIAL, []) == ("email", "in_app")
    assert channels_for(SECURITY, ()) == ("email", "sms")


def test_requested_channels_lose_duplicates_but_keep_order():
    assert channels_for(SOCIAL, ["sms", "email", "sms", "email"]) == ("sms", "email")


def test_channels_for_accepts_any_iterable():
    assert channels_for(SOCIAL, iter(["push"])) == ("push",)
