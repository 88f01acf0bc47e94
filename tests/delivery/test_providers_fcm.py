"""The FCM push adapter through firebase-admin against a local FCM v1 API (with its own OAuth
token endpoint), its error table, and the push chain."""

from __future__ import annotations

import logging

import pytest
from firebase_admin import messaging

import config.settings as config_settings
from delivery.chains import provider_chain
from delivery.providers import fcm
from delivery.providers.base import Outcome, OutgoingMessage, SendResult
from delivery.providers.fcm import (
    FcmPushProvider,
    FcmSettings,
    combine_device_results,
    token_is_dead,
    translate_fcm_error,
)
from scripts.embedded_redis import free_port
from tests.support.fcm_stub import FcmStub

TOKENS = ("token-phone", "token-tablet", "token-laptop")


def push(*tokens: str, **fields: str) -> OutgoingMessage:
    return OutgoingMessage(
        channel="push",
        reference="42",
        to="",
        title=fields.get("title", "Build finished"),
        body=fields.get("body", "main is green"),
        action_url=fields.get("action_url", ""),
        data={"notification_id": "n-1", "delivery_id": "42"},
        tokens=tokens,
    )


@pytest.fixture
def fcm_stub():
    stub = FcmStub().start()
    yield stub
    stub.stop()


@pytest.fixture
def fcm_provider(fcm_stub, tmp_path):
    """Build adapters as a worker would: a service-account file, a timeout, a local endpoint."""
    providers: list[FcmPushProvider] = []
    credentials_path = fcm_stub.service_account_file(tmp_path)

    def build(endpoint_url: str | None = None, timeout_seconds: float = 5) -> FcmPushProvider:
        config = FcmSettings(str(credentials_path), timeout_seconds, endpoint_url or fcm_stub.url)
        providers.append(FcmPushProvider(config))
        return providers[-1]

    yield build
    for provider in providers:
        provider.close()


def test_fcm_pushes_to_every_device_and_returns_a_message_name(fcm_stub, fcm_provider):
    result = fcm_provider().send(push(*TOKENS, action_url="https://app.example.com/builds/7"))

    assert result.outcome == Outcome.DELIVERED
    assert result.invalid_addresses == ()
    sent = fcm_stub.pushes()
    assert sorted(p.target for p in sent) == sorted(TOKENS)
    assert result.provider_message_id in {p.name for p in sent}
    assert result.provider_message_id.startswith("projects/clarion-test/messages/")
    assert sent[0].notification == {"title": "Build finished", "body": "main is green"}
    assert sent[0].data == {
        "notification_id": "n-1",
        "delivery_id": "42",
        "action_url": "https://app.example.com/builds/7",
    }


def test_fcm_reads_comma_separated_tokens_when_the_message_has_no_token_list(fcm_stub, fcm_provider):
    message = OutgoingMessage(channel="push", reference="42", to="token-a, token-b,token-a", body="hi")

    result = fcm_provider().send(message)

    assert result.outcome == Outcome.DELIVERED
    assert sorted(p.target for p in fcm_stub.pushes()) == ["token-a", "token-b"]


def test_fcm_one_unregistered_device_in_three_is_delivered_and_reported_dead(fcm_stub, fcm_provider):
    fcm_stub.fail_tokens("UNREGISTERED", "token-tablet")

    result = fcm_provider().send(push(*TOKENS))

    assert result.outcome == Outcome.DELIVERED
    assert result.invalid_addresses == ("token-tablet",)
    assert "2 of 3" in result.error_message
    assert sorted(p.target for p in fcm_stub.pushes()) == ["token-laptop", "token-phone"]


def test_fcm_all_devices_dead_is_permanent_and_reports_every_token(fcm_stub, fcm_provider):
    fcm_stub.fail_tokens("UNREGISTERED", "token-phone", "token-laptop")
    fcm_stub.fail_tokens("INVALID_ARGUMENT", "token-tablet")

    result = fcm_provider().send(push(*TOKENS))

    assert result.outcome == Outcome.PERMANENT
    assert result.error_code in {"UNREGISTERED", "INVALID_ARGUMENT"}
    assert sorted(result.invalid_addresses) == sorted(TOKENS)
    assert fcm_stub.pushes() == []


def test_fcm_sender_id_mismatch_is_permanent_but_keeps_the_device(fcm_stub, fcm_provider, caplog):
    caplog.set_level(logging.ERROR, logger="delivery.providers.fcm")
    fcm_stub.fail_tokens("SENDER_ID_MISMATCH", "token-phone")

    result = fcm_provider().send(push("token-phone"))

    assert (result.outcome, result.error_code) == (Outcome.PERMANENT, "SENDER_ID_MISMATCH")
    assert result.invalid_addresses == ()
    assert "misconfiguration" in caplog.text


def test_fcm_quota_exceeded_is_retryable_and_keeps_retry_after(fcm_stub, fcm_provider):
    fcm_stub.fail_tokens("QUOTA_EXCEEDED", *TOKENS)
    fcm_stub.behaviour.retry_after = "30"

    result = fcm_provider().send(push(*TOKENS))

    assert (result.outcome, result.error_code) == (Outcome.RETRYABLE, "QUOTA_EXCEEDED")
    assert result.retry_after_seconds == 30.0
    assert result.invalid_addresses == ()


@pytest.mark.parametrize("code", ["UNAVAILABLE", "INTERNAL"])
def test_fcm_outages_are_retryable_and_not_retried_by_the_sdk(fcm_stub, fcm_provider, code):
    fcm_stub.fail_tokens(code, *TOKENS)

    result = fcm_provider().send(push(*TOKENS))

    assert (result.outcome, result.error_code) == (Outcome.RETRYABLE, code)
    # firebase-admin would send each of these five times; Celery owns retries instead.
    assert fcm_stub.send_requests == dict.fromkeys(TOKENS, 1)


def test_fcm_mixed_failures_without_a_delivery_are_retryable(fcm_stub, fcm_provider):
    fcm_stub.fail_tokens("UNREGISTERED", "token-phone")
    fcm_stub.fail_tokens("UNAVAILABLE", "token-tablet", "token-laptop")

    result = fcm_provider().send(push(*TOKENS))

    assert (result.outcome, result.error_code) == (Outcome.RETRYABLE, "UNAVAILABLE")
    assert result.invalid_addresses == ("token-phone",)


def test_fcm_unanswered_request_times_out_as_retryable(fcm_stub, fcm_provider):
    fcm_stub.behaviour.hold_seconds = 60

    result = fcm_provider(timeout_seconds=0.3).send(push("token-phone"))

    assert (result.outcome, result.error_code) == (Outcome.RETRYABLE, "DEADLINE_EXCEEDED")


def test_fcm_refused_connection_is_retryable(fcm_stub, fcm_provider):
    # The token endpoint answers; the FCM endpoint does not.
    result = fcm_provider(endpoint_url=f"http://127.0.0.1:{free_port()}").send(push(*TOKENS))

    assert (result.outcome, result.error_code) == (Outcome.RETRYABLE, "UNAVAILABLE")
    assert result.invalid_addresses == ()


def test_fcm_refused_credentials_are_a_permanent_misconfiguration(fcm_stub, fcm_provider):
    fcm_stub.behaviour.refuse_token_grants = True

    result = fcm_provider().send(push(*TOKENS))

    assert (result.outcome, result.error_code) == (Outcome.PERMANENT, "credentials")
    assert "misconfiguration" in result.error_message
    assert result.invalid_addresses == ()
    assert fcm_stub.send_requests == {}


def test_fcm_unreachable_token_endpoint_is_retryable(fcm_stub, fcm_provider):
    provider = fcm_provider()
    fcm_stub.stop()

    result = provider.send(push("token-phone"))

    assert (result.outcome, result.error_code) == (Outcome.RETRYABLE, "credentials_unavailable")


def test_fcm_sends_many_devices_in_batches(fcm_stub, fcm_provider, monkeypatch):
    monkeypatch.setattr(fcm, "FCM_BATCH_SIZE", 2)
    batch_sizes: list[int] = []
    send_each = messaging.send_each

    def recording_send_each(messages, *args, **kwargs):
        batch_sizes.append(len(messages))
        return send_each(messages, *args, **kwargs)

    monkeypatch.setattr(messaging, "send_each", recording_send_each)
    tokens = [f"token-{n}" for n in range(5)]
    fcm_stub.fail_tokens("UNREGISTERED", "token-4")

    result = fcm_provider().send(push(*tokens))

    assert batch_sizes == [2, 2, 1]
    assert result.outcome == Outcome.DELIVERED
    assert result.invalid_addresses == ("token-4",)
    assert sorted(p.target for p in fcm_stub.pushes()) == tokens[:4]


def test_fcm_user_without_devices_is_permanent(fcm_stub, fcm_provider):
    result = fcm_provider().send(push())

    assert (result.outcome, result.error_code) == (Outcome.PERMANENT, "no_devices")
    assert fcm_stub.send_requests == {}


def test_fcm_endpoint_override_does_not_leak_into_other_apps(fcm_provider):
    fcm_provider()

    assert messaging._MessagingService.FCM_URL == "https://fcm.googleapis.com/v1/projects/{0}/messages:send"


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        ("UNREGISTERED", Outcome.PERMANENT),
        ("INVALID_ARGUMENT", Outcome.PERMANENT),
        ("SENDER_ID_MISMATCH", Outcome.PERMANENT),
        ("THIRD_PARTY_AUTH_ERROR", Outcome.PERMANENT),
        ("UNAUTHENTICATED", Outcome.PERMANENT),
        ("PERMISSION_DENIED", Outcome.PERMANENT),
        ("QUOTA_EXCEEDED", Outcome.RETRYABLE),
        ("UNAVAILABLE", Outcome.RETRYABLE),
        ("INTERNAL", Outcome.RETRYABLE),
        ("DEADLINE_EXCEEDED", Outcome.RETRYABLE),
        ("SOMETHING_NEW", Outcome.PERMANENT),
    ],
)
def test_fcm_error_table(code, outcome):
    result = translate_fcm_error("token-x", code, "message")

    assert (result.outcome, result.error_code) == (outcome, code)


@pytest.mark.parametrize(
    ("code", "message", "fields", "dead"),
    [
        ("UNREGISTERED", "Requested entity was not found.", [], True),
        ("INVALID_ARGUMENT", "The registration token is not a valid FCM registration token", [], True),
        ("INVALID_ARGUMENT", "Invalid value", ["message.token"], True),
        ("INVALID_ARGUMENT", "Message is too big", ["message.data"], False),
        ("SENDER_ID_MISMATCH", "SenderId mismatch", [], False),
        ("UNAVAILABLE", "try later", [], False),
    ],
)
def test_fcm_only_token_errors_mark_the_device_dead(code, message, fields, dead):
    assert token_is_dead(code, message, fields) is dead
    assert translate_fcm_error("token-x", code, message, fields).invalid_addresses == (("token-x",) if dead else ())


def test_fcm_retryable_errors_keep_the_longest_retry_after():
    results = [
        translate_fcm_error("a", "QUOTA_EXCEEDED", "slow down", retry_after="10"),
        translate_fcm_error("b", "QUOTA_EXCEEDED", "slow down", retry_after="40"),
        translate_fcm_error("c", "UNREGISTERED", "gone"),
    ]

    result = combine_device_results(results)

    assert (result.outcome, result.retry_after_seconds, result.invalid_addresses) == (Outcome.RETRYABLE, 40.0, ("c",))


def test_fcm_one_delivery_makes_the_push_delivered_whatever_else_failed():
    results = [
        translate_fcm_error("a", "UNAVAILABLE", "down"),
        SendResult.delivered("projects/p/messages/1"),
        translate_fcm_error("c", "UNREGISTERED", "gone"),
    ]

    result = combine_device_results(results)

    assert (result.outcome, result.provider_message_id) == (Outcome.DELIVERED, "projects/p/messages/1")
    assert result.invalid_addresses == ("c",)
    assert "UNAVAILABLE ×1" in result.error_message


@pytest.fixture
def fresh_chains():
    provider_chain.cache_clear()
    yield
    provider_chain.cache_clear()


def test_push_chain_is_built_from_settings(settings, fresh_chains, fcm_stub, tmp_path):
    settings.CLARION_PUSH_PROVIDERS = ["fcm", "outbox"]
    settings.FIREBASE_CREDENTIALS = str(fcm_stub.service_account_file(tmp_path))
    settings.FCM_ENDPOINT_URL = fcm_stub.url

    chain = provider_chain("push")
    try:
        assert [provider.name for provider in chain] == ["fcm", "outbox"]
        assert chain[0].send(push("token-phone")).outcome == Outcome.DELIVERED
    finally:
        chain[0].close()


@pytest.mark.parametrize(("credentials", "expected"), [("/etc/clarion/firebase.json", ["fcm"]), ("", ["outbox"])])
def test_default_push_chain_follows_the_credentials_present(monkeypatch, credentials, expected):
    monkeypatch.setattr(config_settings, "FIREBASE_CREDENTIALS", credentials)

    assert config_settings._default_push_chain() == expected
