"""GET /metrics: who may read it, what the counters say after real sends, and the live gauges."""

from __future__ import annotations

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from config.celery import ALL_QUEUES
from delivery.models import Delivery
from monitoring.metrics import api_rejection_record
from scripts.embedded_redis import free_port
from tests import factories
from tests.support.processes import wait_for

TOKEN = "scrape-token-for-tests"


def sample_values(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


@pytest.fixture
def metrics_token(settings) -> str:
    settings.CLARION_METRICS_TOKEN = TOKEN
    return TOKEN


def scrape(client, token: str = TOKEN) -> dict:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.content
    return sample_values(response.content.decode())


@pytest.mark.django_db
def test_anonymous_scrape_is_refused_with_401(client, metrics_token):
    response = client.get("/metrics")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_wrong_token_is_refused_with_403(client, metrics_token):
    response = client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "invalid_token"


@pytest.mark.django_db
def test_empty_token_is_refused_when_no_token_is_configured(client, settings):
    settings.CLARION_METRICS_TOKEN = ""

    response = client.get("/metrics", headers={"Authorization": "Bearer "})

    assert response.status_code == 403


@pytest.mark.django_db
def test_signed_in_user_who_is_not_staff_is_refused_with_403(client, metrics_token):
    client.force_login(factories.UserFactory(username="ada"))

    response = client.get("/metrics")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.django_db
def test_token_reads_the_metrics(client, metrics_token):
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert value(sample_values(response.content.decode()), "clarion_redis_up") == 1


@pytest.mark.django_db
def test_staff_session_reads_the_metrics(client, metrics_token):
    client.force_login(factories.UserFactory(username="operator", is_staff=True))

    response = client.get("/metrics")

    assert response.status_code == 200
    assert "clarion_queue_depth" in response.content.decode()


@pytest.mark.django_db
def test_metrics_refuse_other_methods_with_json(client, metrics_token):
    response = client.post("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.django_db
def test_api_rejections_are_counted_by_reason(client, metrics_token):
    before = value(scrape(client), "clarion_api_rejections_total", reason="load_shed") or 0

    api_rejection_record("load_shed")
    api_rejection_record("load_shed")

    assert value(scrape(client), "clarion_api_rejections_total", reason="load_shed") == before + 2


def test_api_rejection_with_an_unknown_reason_fails_loudly():
    with pytest.raises(ValueError, match="unknown API rejection reason"):
        api_rejection_record("bored")


@pytest.mark.django_db
def test_scrape_with_redis_down_leaves_out_the_redis_gauges(client, metrics_token, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there

    samples = scrape(client)

    assert value(samples, "clarion_redis_up") == 0
    assert not any(name in ("clarion_queue_depth", "clarion_breaker_state") for name, _ in samples)
    assert value(samples, "clarion_dead_letters") == 0


@pytest.mark.e2e
def test_scrape_counts_sends_of_web_and_worker_processes(processes):
    category = factories.category_with_templates(slug="metrics_check", channels=("email", "in_app"))
    for name in ("ada", "bob"):
        factories.NotificationSettingsFactory(user=factories.UserFactory(username=name))
    # SMTP refuses every connection: two retryable attempts per email, then the outbox takes it.
    env = {
        "CLARION_EMAIL_PROVIDERS": "smtp,outbox",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(free_port()),
        "CLARION_MAX_ATTEMPTS_PER_PROVIDER": "2",
        "CLARION_METRICS_TOKEN": TOKEN,
    }
    processes.worker(env=env)
    _, base_url = processes.web(env=env)

    response = requests.post(
        f"{base_url}/api/v1/notifications",
        json={"category": category.slug, "recipients": ["ada", "bob"], "data": {"name": "Ada"}},
        headers={"Authorization": f"Api-Key {factories.api_key()}"},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    wait_for(
        lambda: Delivery.objects.filter(status__in=["sent", "delivered"]).count() == 4,
        timeout=60,
        message="both emails and both in-app messages to go out",
    )
    scraped = requests.get(f"{base_url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)

    assert scraped.status_code == 200, scraped.text
    samples = sample_values(scraped.text)
    assert value(samples, "clarion_notifications_accepted_total", category="metrics_check") == 2
    deliveries = {
        (dict(labels)["channel"], dict(labels)["provider"], dict(labels)["outcome"]): count
        for (name, labels), count in samples.items()
        if name == "clarion_deliveries_total"
    }
    assert deliveries == {
        ("email", "smtp", "retryable"): 4,
        ("email", "outbox", "delivered"): 2,
        ("in_app", "inbox", "delivered"): 2,
    }
    assert value(samples, "clarion_attempt_latency_seconds_count", channel="email", provider="smtp") == 4
    assert value(samples, "clarion_attempt_latency_seconds_count", channel="email", provider="outbox") == 2
    assert value(samples, "clarion_attempt_latency_seconds_count", channel="in_app", provider="inbox") == 2
    queues = {dict(labels)["queue"] for name, labels in samples if name == "clarion_queue_depth"}
    assert queues == {*ALL_QUEUES, "intake"}
    assert value(samples, "clarion_breaker_state", provider="smtp", state="closed") == 1
    assert value(samples, "clarion_scheduled_backlog") == 0
    assert value(samples, "clarion_dead_letters") == 0
