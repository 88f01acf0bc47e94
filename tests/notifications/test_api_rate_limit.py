"""The rate limit per API key: a token bucket in the real Redis, refusing with a 429 that says
when to retry and which limit was hit."""

from __future__ import annotations

import logging
import time

import pytest
import redis
from django.conf import settings
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from delivery.provider_health import delivery_redis
from notifications.api_rate_limit import KEY_PREFIX, ApiRateLimit, api_key_token_take
from notifications.load_shedding import queue_depth_cache
from notifications.models import ApiKey, Notification
from scripts.embedded_redis import free_port
from tests import factories

URL = "/api/v1/notifications"


def _forget_buckets(client: redis.Redis) -> None:
    keys = list(client.scan_iter(f"{KEY_PREFIX}:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture(autouse=True)
def full_buckets(redis_client):
    """Buckets are named by the key's id, which a later test's key may reuse."""
    _forget_buckets(redis_client)
    queue_depth_cache.clear()
    yield
    _forget_buckets(redis_client)
    queue_depth_cache.clear()


@pytest.fixture
def ada(db):
    factories.category_with_templates(slug="comment_reply", channels=("in_app",))
    return factories.UserFactory(username="ada")


def client_for(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    return client


def send(client: APIClient):
    return client.post(URL, {"category": "comment_reply", "recipients": ["ada"]}, format="json")


def rejections(reason: str) -> float:
    return REGISTRY.get_sample_value("clarion_api_rejections_total", {"reason": reason}) or 0.0


def test_a_key_over_its_burst_gets_429_with_retry_after_and_the_limit_named(settings, api_client, ada):
    settings.CLARION_API_RATE_LIMIT = 0.01  # one token per 100 s: none comes back during the test
    settings.CLARION_API_BURST = 3
    before = rejections("rate_limited")

    statuses = [send(api_client).status_code for _ in range(3)]
    refused = send(api_client)

    assert statuses == [202, 202, 202]
    assert refused.status_code == 429, refused.content
    assert refused["Content-Type"].startswith("application/json")
    assert refused["Retry-After"].isdigit() and 1 <= int(refused["Retry-After"]) <= 100
    error = refused.json()["error"]
    assert error["code"] == "rate_limited"
    assert "0.01 requests/s, burst 3" in error["message"]
    assert error["fields"] == {"api_key": "Over its rate limit of 0.01 requests/s, burst 3."}
    assert Notification.objects.count() == 3  # the refused request wrote nothing
    assert rejections("rate_limited") == before + 1


def test_retry_after_rounds_a_wait_under_a_second_up_to_one(settings, api_client, ada):
    settings.CLARION_API_RATE_LIMIT = 1000  # the next token is a millisecond away
    settings.CLARION_API_BURST = 1
    # Emptied "in the future": until Redis' clock passes that, no time has elapsed to refill it.
    api_key_token_take(ApiKey.objects.get().pk, ApiRateLimit(rate=1000, burst=1), now=time.time() + 3600)

    refused = send(api_client)

    assert refused.status_code == 429
    assert refused["Retry-After"] == "1"


def test_tokens_refill_as_time_passes(api_key):
    limit = ApiRateLimit(rate=4, burst=2)  # a token every 0.25 s (times a float holds exactly)
    key_id = ApiKey.objects.get().pk
    start = 1_000_000.0

    def take(at: float) -> tuple[bool, float]:
        grant = api_key_token_take(key_id, limit, now=start + at)
        return grant.granted, grant.wait_seconds

    burst = [take(0), take(0)]
    empty = take(0)
    early = take(0.125)
    refilled = take(0.25)
    after = take(0.25)
    # Idle for long, the bucket holds its burst and no more.
    long_idle = [take(60), take(60), take(60)]

    assert burst == [(True, 0), (True, 0)]
    assert empty == (False, 0.25)
    assert early == (False, 0.125)  # a refused request took nothing
    assert refilled == (True, 0)
    assert after == (False, 0.25)
    assert long_idle == [(True, 0), (True, 0), (False, 0.25)]


def test_each_key_has_its_own_bucket(settings, api_client, ada):
    settings.CLARION_API_RATE_LIMIT = 0.01
    settings.CLARION_API_BURST = 1
    other = client_for(factories.api_key("other-app"))

    assert send(api_client).status_code == 202
    assert send(api_client).status_code == 429
    assert send(other).status_code == 202
    assert send(other).status_code == 429


def test_every_request_with_the_key_takes_a_token_whatever_the_endpoint(settings, api_client, ada):
    settings.CLARION_API_RATE_LIMIT = 0.01
    settings.CLARION_API_BURST = 2

    accepted = send(api_client)
    notification_id = accepted.json()["notifications"][0]["id"]
    read = api_client.get(f"{URL}/{notification_id}")
    refused = api_client.get(f"{URL}/{notification_id}")

    assert (accepted.status_code, read.status_code, refused.status_code) == (202, 200, 429)
    assert refused.json()["error"]["code"] == "rate_limited"


def test_an_unknown_key_is_refused_as_unknown_not_rate_limited(settings, api_client, ada):
    settings.CLARION_API_RATE_LIMIT = 0.01
    settings.CLARION_API_BURST = 1
    stranger = client_for("clr_00000000_not-a-key")

    assert send(api_client).status_code == 202
    assert send(stranger).status_code == 401
    assert send(api_client).status_code == 429


def test_a_rate_of_zero_turns_the_limit_off(settings, api_client, ada):
    settings.CLARION_API_RATE_LIMIT = 0
    settings.CLARION_API_BURST = 1

    assert [send(api_client).status_code for _ in range(3)] == [202, 202, 202]
    assert not list(delivery_redis().scan_iter(f"{KEY_PREFIX}:*"))


def test_without_redis_requests_pass_and_a_warning_is_logged(settings, api_client, ada, caplog):
    settings.CLARION_API_RATE_LIMIT = 0.01
    settings.CLARION_API_BURST = 1
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    logger = logging.getLogger("notifications.api_rate_limit")
    logger.addHandler(caplog.handler)  # Clarion's loggers don't propagate to the root logger
    try:
        statuses = [send(api_client).status_code for _ in range(3)]
    finally:
        logger.removeHandler(caplog.handler)

    assert statuses == [202, 202, 202]
    assert Notification.objects.count() == 3
    assert "API requests pass without their rate limit" in caplog.text


def test_the_defaults_leave_room_for_the_accept_benchmark():
    # bench/ drives 300 requests a second through one key.
    assert settings.CLARION_API_RATE_LIMIT >= 300
    assert settings.CLARION_API_BURST >= settings.CLARION_API_RATE_LIMIT
