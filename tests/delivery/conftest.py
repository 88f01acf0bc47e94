"""Fixtures for the delivery tests."""

from __future__ import annotations

import pytest
import redis
from django.test import Client

from delivery.breaker_store import KEY_PREFIX as BREAKER_PREFIX
from delivery.provider_health import delivery_redis
from delivery.rate_limit import KEY_PREFIX as RATE_LIMIT_PREFIX
from tests import factories


def _forget_provider_health() -> None:
    client = delivery_redis()
    try:
        keys = [*client.scan_iter(f"{BREAKER_PREFIX}:*"), *client.scan_iter(f"{RATE_LIMIT_PREFIX}:*")]
        if keys:
            client.delete(*keys)
    except redis.ConnectionError:
        pass  # no Redis: sending treats breakers as closed, so there is nothing to forget


@pytest.fixture(autouse=True)
def fresh_provider_health():
    """Breakers and rate limits live in Redis and would outlast a test: every test starts
    with all breakers closed and all buckets full."""
    _forget_provider_health()
    yield
    _forget_provider_health()


@pytest.fixture
def staff_client(db) -> Client:
    """A superuser signed in to the admin."""
    staff = factories.UserFactory(username="staff", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    return client
