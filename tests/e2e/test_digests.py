"""Caps and digests with real processes: messages over a cap fold into a digest that beat
flushes and a worker sends; two workers flushing at the same time send each digest once."""

from __future__ import annotations

import time

import pytest
import requests
from django.utils import timezone

from delivery.models import Delivery
from digests.models import DigestItem
from digests.tasks import digest_flush_task
from tests import factories
from tests.support.digests import digest_deliveries, fold
from tests.support.processes import wait_for

pytestmark = pytest.mark.e2e

FAST_DIGESTS = {"CLARION_DIGEST_FLUSH_INTERVAL_SECONDS": "1"}


def _post(base_url: str, key: str, data: dict) -> str:
    response = requests.post(
        f"{base_url}/api/v1/notifications",
        json={"category": "comment_reply", "recipients": ["ada"], "data": data},
        headers={"Authorization": f"Api-Key {key}"},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    return response.json()["notifications"][0]["id"]


def test_messages_over_the_cap_fold_into_a_digest_that_is_then_sent(processes, smtp_server):
    factories.category_with_templates(slug="comment_reply", channels=("email",), max_per_hour=2)
    factories.UserFactory(username="ada", email="ada@example.com")
    key = factories.api_key()
    processes.worker(env=smtp_server.env())
    _, base_url = processes.web()

    ids = [_post(base_url, key, {"name": f"reply {n}"}) for n in range(5)]

    def settled() -> bool:
        done = Delivery.objects.filter(notification_id__in=ids, status__in=["sent", "digested"])
        return done.count() == 5 and len(smtp_server.messages) == 2

    wait_for(settled, timeout=30, message="two emails sent and three digested")
    statuses = sorted(Delivery.objects.filter(notification_id__in=ids).values_list("status", flat=True))
    assert statuses == ["digested", "digested", "digested", "sent", "sent"]
    items = DigestItem.objects.filter(flushed_at__isnull=True)
    assert items.count() == 3
    assert all(item.due_at > timezone.now() for item in items)  # when the hour ends

    # The hour ends: the digest is due, and beat's flusher picks it up.
    items.update(due_at=timezone.now())
    processes.beat(env={**smtp_server.env(), **FAST_DIGESTS})

    wait_for(lambda: len(smtp_server.messages) == 3, timeout=30, message="the digest email")
    digest = smtp_server.messages[-1]
    assert digest["Subject"] == "3 new Comment Reply notifications"
    body = digest.get_payload(decode=True).decode() if not digest.is_multipart() else digest.as_string()
    assert body.count("- Hello reply") == 3
    assert digest["To"] == "ada@example.com"
    sent = wait_for(
        lambda: digest_deliveries().filter(status="sent").first(), timeout=10, message="the digest delivery sent"
    )
    assert sent.notification.data == {"digest": {"count": 3}}
    assert set(DigestItem.objects.values_list("digest_id", flat=True)) == {sent.notification_id}
    # Later flushes find nothing more to send.
    time.sleep(2.5)
    assert len(smtp_server.messages) == 3


def test_two_workers_flushing_at_once_send_each_digest_once(processes, smtp_server):
    comments = factories.category_with_templates(slug="comment_reply", channels=("email",))
    readers = [factories.UserFactory(username=f"reader{n}", email=f"reader{n}@example.com") for n in range(12)]
    for reader in readers:
        fold(comments, reader, 3)
    workers = [processes.worker(env=smtp_server.env()), processes.worker(env=smtp_server.env())]

    for _ in range(8):
        digest_flush_task.apply_async(queue="maintenance")

    wait_for(lambda: len(smtp_server.messages) >= 12, timeout=60, message="twelve digest emails")
    wait_for(
        lambda: sum(_succeeded(w.log()) for w in workers) == 8, timeout=60, message="all eight flush tasks to finish"
    )
    assert all(_succeeded(w.log()) for w in workers), "both workers ran flushes"
    recipients = sorted(message["To"] for message in smtp_server.messages)
    assert recipients == sorted(f"reader{n}@example.com" for n in range(12))
    assert digest_deliveries().count() == 12
    assert not DigestItem.objects.filter(flushed_at__isnull=True).exists()


def _succeeded(log: str) -> int:
    return sum(1 for line in log.splitlines() if "digests.tasks.digest_flush_task" in line and "succeeded in" in line)
