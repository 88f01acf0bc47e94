"""Load shedding: while a queue is backlogged, new low-priority notifications are refused with a
429 and everything else is accepted. The rule alone, then through the API against the real
Redis, with the queues filled by dummy messages."""

from __future__ import annotations

import logging

import pytest
import redis
from prometheus_client import REGISTRY

from config.celery import ALL_QUEUES
from delivery.intake import INTAKE_KEY
from delivery.provider_health import delivery_redis
from delivery.status import PRIORITY_SUFFIXES
from notifications.load_shedding import (
    SHED_RETRY_AFTER_SECONDS,
    Backlog,
    QueueDepthCache,
    queue_depth_cache,
    shed_decide,
)
from notifications.models import Category, Notification
from scripts.embedded_redis import free_port
from tests import factories

URL = "/api/v1/notifications"
THRESHOLD = 5

# --- the rule ------------------------------------------------------------------------------

DEPTHS = {"pipeline": 3, "email": 9, "sms": 7, "in_app": 0}


def test_low_priority_is_shed_for_the_deepest_queue_over_the_threshold():
    assert shed_decide("low", False, ["pipeline", "sms", "email"], DEPTHS, THRESHOLD) == Backlog("email", 9)


@pytest.mark.parametrize("priority", ["normal", "high"])
def test_normal_and_high_priority_are_never_shed(priority):
    assert shed_decide(priority, False, ["pipeline", "email"], DEPTHS, THRESHOLD) is None


def test_security_is_never_shed_even_at_low_priority():
    assert shed_decide("low", True, ["pipeline", "email"], DEPTHS, THRESHOLD) is None


def test_only_the_queues_the_notification_uses_count():
    assert shed_decide("low", False, ["pipeline", "in_app"], DEPTHS, THRESHOLD) is None


def test_a_queue_at_the_threshold_is_not_over_it():
    assert shed_decide("low", False, ["email"], {"email": THRESHOLD}, THRESHOLD) is None
    assert shed_decide("low", False, ["email"], {"email": THRESHOLD + 1}, THRESHOLD) == Backlog("email", 6)


def test_unknown_depths_and_a_zero_threshold_shed_nothing():
    assert shed_decide("low", False, ["email"], {"email": None}, THRESHOLD) is None
    assert shed_decide("low", False, ["email"], DEPTHS, 0) is None


# --- through the API -----------------------------------------------------------------------


def _empty_queues(client: redis.Redis) -> None:
    client.delete(*(f"{queue}{suffix}" for queue in ALL_QUEUES for suffix in PRIORITY_SUFFIXES))


@pytest.fixture
def empty_queues(redis_client, settings):
    settings.CLARION_SHED_LOW_PRIORITY_DEPTH = THRESHOLD
    _empty_queues(redis_client)
    queue_depth_cache.clear()
    yield
    _empty_queues(redis_client)  # the test's Redis, whatever REDIS_URL the test left behind
    queue_depth_cache.clear()


def backlog(queue: str, depth: int = THRESHOLD + 1, suffix: str = "") -> None:
    """Dummy messages in a queue's Redis list, where kombu keeps its messages."""
    delivery_redis().lpush(f"{queue}{suffix}", *(f"dummy-{n}" for n in range(depth)))
    queue_depth_cache.clear()


@pytest.fixture
def categories(db, empty_queues):
    factories.UserFactory(username="ada")
    made = {
        "bulk": factories.category_with_templates(slug="bulk", channels=("email",), priority="low"),
        "bulk_in_app": factories.category_with_templates(slug="bulk_in_app", channels=("in_app",), priority="low"),
        "reply": factories.category_with_templates(slug="reply", channels=("email",), priority="normal"),
        "alert": factories.category_with_templates(slug="alert", channels=("email",), priority="high"),
        # A low priority does not make security traffic sheddable.
        "login": factories.category_with_templates(
            slug="login", channels=("email",), priority="low", kind=Category.Kind.SECURITY
        ),
    }
    return made


def send(client, category: str, **fields):
    return client.post(URL, {"category": category, "recipients": ["ada"], **fields}, format="json")


def sheds() -> float:
    return REGISTRY.get_sample_value("clarion_api_rejections_total", {"reason": "load_shed"}) or 0.0


def test_a_channel_backlog_refuses_low_priority_with_429_naming_it(api_client, categories):
    backlog("email", THRESHOLD + 2)
    before = sheds()

    refused = send(api_client, "bulk")

    assert refused.status_code == 429, refused.content
    assert refused["Retry-After"] == str(SHED_RETRY_AFTER_SECONDS)
    error = refused.json()["error"]
    assert error["code"] == "load_shed"
    assert "email queue's backlog (7 messages) is over 5" in error["message"]
    assert error["fields"] == {"priority": "Low priority is shed while the email backlog is over 5 messages."}
    assert not Notification.objects.exists()
    assert sheds() == before + 1


@pytest.mark.parametrize("category", ["reply", "alert", "login"])
def test_normal_high_and_security_pass_a_backlog(api_client, categories, category):
    backlog("email")
    before = sheds()

    assert send(api_client, category).status_code == 202
    assert sheds() == before


def test_the_request_priority_decides_over_the_category(api_client, categories):
    backlog("email")

    assert send(api_client, "bulk", priority="high").status_code == 202
    assert send(api_client, "reply", priority="low").status_code == 429


def test_a_backlog_on_a_channel_the_notification_does_not_use_sheds_nothing(api_client, categories):
    backlog("email")

    assert send(api_client, "bulk_in_app").status_code == 202
    assert send(api_client, "bulk", channels=["in_app"]).status_code == 202
    assert send(api_client, "bulk_in_app", channels=["email"]).status_code == 429


def test_a_pipeline_backlog_sheds_low_priority_on_any_channel(api_client, categories):
    backlog("pipeline")

    assert send(api_client, "bulk_in_app").status_code == 429
    assert send(api_client, "reply").status_code == 202


def test_an_intake_backlog_counts_in_chunks_and_sheds_low_priority_on_any_channel(
    api_client, categories, redis_client, settings
):
    settings.CLARION_CHUNK_SIZE = 10
    redis_client.delete(INTAKE_KEY)
    try:
        redis_client.rpush(INTAKE_KEY, *(f"id-{n}" for n in range(THRESHOLD * 10)))  # 5 chunks: at it
        queue_depth_cache.clear()
        assert send(api_client, "bulk_in_app").status_code == 202

        redis_client.rpush(INTAKE_KEY, "one-more")  # a sixth chunk begun: over it
        queue_depth_cache.clear()
        refused = send(api_client, "bulk_in_app")
        assert refused.status_code == 429
        assert "intake queue's backlog (6 messages) is over 5" in refused.json()["error"]["message"]
        assert send(api_client, "reply").status_code == 202
    finally:
        redis_client.delete(INTAKE_KEY)


def test_messages_of_every_kombu_priority_count(api_client, categories):
    backlog("email", 3)
    backlog("email", 3, suffix=PRIORITY_SUFFIXES[2])

    assert send(api_client, "bulk").status_code == 429


def test_below_the_threshold_low_priority_passes(api_client, categories):
    backlog("email", THRESHOLD)

    assert send(api_client, "bulk").status_code == 202


def test_a_zero_threshold_turns_shedding_off(api_client, categories, settings):
    settings.CLARION_SHED_LOW_PRIORITY_DEPTH = 0
    backlog("email", 50)

    assert send(api_client, "bulk").status_code == 202


def test_an_unknown_category_is_still_refused_as_unknown(api_client, categories):
    backlog("email")

    response = send(api_client, "no_such_category")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_category"


def test_without_redis_low_priority_passes_and_a_warning_is_logged(api_client, categories, settings, caplog):
    backlog("email")
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    logger = logging.getLogger("notifications.load_shedding")
    logger.addHandler(caplog.handler)  # Clarion's loggers don't propagate to the root logger
    try:
        response = send(api_client, "bulk")
    finally:
        logger.removeHandler(caplog.handler)

    assert response.status_code == 202
    assert "queue depths unknown" in caplog.text


def test_depths_are_read_once_per_max_age_not_per_request(empty_queues):
    cache = QueueDepthCache(max_age=3600)
    first = cache.depths()
    backlog("email")

    cached = cache.depths()
    cache.clear()
    fresh = cache.depths()

    assert first["email"] == cached["email"] == 0
    assert fresh["email"] == THRESHOLD + 1
