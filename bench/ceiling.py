"""The ceiling reference: `python -m bench.ceiling`, one of P shard processes.

A bare loop: the same provider adapters and clients as Clarion's workers, the same number of
sends in flight (P processes × T threads), Clarion's templates and rendering, and the least
database work a delivery log needs: notifications read in bulk, one bulk insert per batch
of finished deliveries. No queue between stages, no claims, no retries, no policy.

It prints `{"ready": true}` once its provider clients are built, then runs one job per JSON
line on stdin and answers each with a JSON line. A job:

    {"shard": k, "shards": P, "threads": T, "deadline": EPOCH,
     "requests": [notification request ids],     # deliver this shard's share of these
     "paced": {"category", "recipients", "rate", "seconds"} or null,
     "until_paced_done": bool}

Paced notifications are created by the shard itself at its share of the rate (their data
carries the due time as `sent_at`), and jump ahead of the bulk ones: a priority queue is
what a bare loop can do for critical traffic.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connections  # noqa: E402

from bench.messages import message_content  # noqa: E402
from delivery.chains import provider_chain  # noqa: E402
from delivery.models import Delivery, Device  # noqa: E402
from delivery.providers.base import Outcome, SendResult  # noqa: E402
from delivery.sending import message_from_content  # noqa: E402
from notifications.channels import ALL_CHANNELS, Channel  # noqa: E402
from notifications.models import ApiKey, Category, Notification, NotificationRequest, Template  # noqa: E402

WRITE_BATCH = 500
WRITE_INTERVAL_SECONDS = 0.1
PACED, BULK = 0, 1  # priorities: lower goes first
STOP = -1  # ahead of anything still queued


@dataclass(frozen=True)
class Send:
    notification_id: str
    channel: str
    content: dict


@dataclass(frozen=True)
class Sent:
    priority: int
    send: Send
    provider: str
    result: SendResult
    finished: float  # epoch seconds


class Shard:
    def __init__(self, job: dict[str, Any]) -> None:
        self.job = job
        self.work: queue.PriorityQueue[tuple[int, int, Send | None]] = queue.PriorityQueue()
        self.done: queue.Queue[Sent] = queue.Queue()
        self.order = itertools.count()
        self.templates = {(t.category_id, t.channel): t for t in Template.objects.filter(locale="en")}
        self.paced_total = 0
        self.paced_done = 0  # paced sends finished
        self.paced_finished = threading.Event()  # every paced notification is created and queued
        self.written = self.failed = 0
        self._pending: list[Delivery] = []
        self._last_write = time.monotonic()

    def _sends(self, notifications: list[Notification]) -> list[Send]:
        channels = {n.pk: n.channels or n.category.default_channels for n in notifications}
        push_users = [n.recipient_id for n in notifications if Channel.PUSH in channels[n.pk]]
        tokens: dict[int, list[str]] = defaultdict(list)
        for user_id, token in Device.objects.filter(user_id__in=push_users, active=True).values_list(
            "user_id", "token"
        ):
            tokens[user_id].append(token)
        return [
            Send(
                str(n.pk),
                channel,
                message_content(self.templates[(n.category_id, channel)], n, n.recipient, tokens[n.recipient_id]),
            )
            for n in notifications
            for channel in channels[n.pk]
        ]

    def _send_loop(self) -> None:
        while True:
            priority, _, send = self.work.get()
            if send is None:
                connections.close_all()  # this thread's, opened by the in-app adapter
                return
            provider = provider_chain(send.channel)[0]
            reference = f"{send.notification_id}:{send.channel}"
            message = message_from_content(reference, send.notification_id, send.channel, send.content)
            try:
                result = provider.send(message)
            except Exception as error:  # a bare loop: a send that raised is counted failed, not lost
                result = SendResult.permanent("raised", repr(error))
            self.done.put(Sent(priority, send, provider.name, result, time.time()))

    def _pace(self) -> None:
        """Create this shard's share of the paced notifications at its share of the rate."""
        paced, shard, shards = self.job["paced"], self.job["shard"], self.job["shards"]
        category = Category.objects.get(slug=paced["category"])
        accepted = NotificationRequest.objects.create(api_key=ApiKey.objects.filter(name="bench").latest("pk"))
        users = self._users(paced["recipients"])
        interval = shards / paced["rate"]
        start = time.time() + shard * interval / shards
        for index in range(self.paced_total):
            due = start + index * interval
            if due > self.job["deadline"]:
                break
            time.sleep(max(0.0, due - time.time()))
            user = users[index % len(users)]
            notification = Notification.objects.create(
                request=accepted, category=category, recipient=user, data={"n": index, "sent_at": due}
            )
            notification.category, notification.recipient = category, user
            for send in self._sends([notification]):
                self.work.put((PACED, next(self.order), send))
        self.paced_finished.set()
        connections.close_all()

    def _users(self, usernames: list[str]) -> list[Any]:
        shard, shards = self.job["shard"], self.job["shards"]
        mine = usernames[shard::shards] or usernames
        found = get_user_model().objects.filter(username__in=mine).select_related("notification_settings")
        by_name = {user.username: user for user in found}
        return [by_name[name] for name in mine]

    def _record(self, sent: Sent) -> None:
        delivered = sent.result.outcome == Outcome.DELIVERED
        final = Delivery.Status.DELIVERED if sent.send.channel == Channel.IN_APP else Delivery.Status.SENT
        self._pending.append(
            Delivery(
                notification_id=sent.send.notification_id,
                channel=sent.send.channel,
                status=final if delivered else Delivery.Status.FAILED,
                reason="" if delivered else f"{sent.result.error_code} {sent.result.error_message}"[:500],
                queue="ceiling",
                provider=sent.provider,
                provider_message_id=sent.result.provider_message_id,
                sent_at=datetime.fromtimestamp(sent.finished, tz=UTC) if delivered else None,
            )
        )
        self.failed += not delivered
        self.paced_done += sent.priority == PACED

    def _write(self, force: bool = False) -> None:
        """One bulk insert of the finished sends, when there are enough or they have waited."""
        due = len(self._pending) >= WRITE_BATCH or time.monotonic() - self._last_write > WRITE_INTERVAL_SECONDS
        if self._pending and (due or force):
            Delivery.objects.bulk_create(self._pending)
            self.written += len(self._pending)
            self._pending, self._last_write = [], time.monotonic()

    def _drain(self, timeout: float | None) -> None:
        """Record what has finished (waiting up to `timeout` for one when there is none)."""
        try:
            self._record(self.done.get(timeout=timeout) if timeout else self.done.get_nowait())
            while True:
                self._record(self.done.get_nowait())
        except queue.Empty:
            pass
        self._write()

    def _finished(self, expected: int) -> bool:
        if not self.paced_finished.is_set():
            return False
        if self.job.get("until_paced_done") and self.paced_total and self.paced_done >= self.paced_total:
            return True
        return self.written + len(self._pending) >= expected

    def run(self) -> dict[str, Any]:
        started = time.time()
        threads = [threading.Thread(target=self._send_loop, daemon=True) for _ in range(self.job["threads"])]
        for thread in threads:
            thread.start()
        paced = self.job.get("paced")
        if paced:
            self.paced_total = round(paced["rate"] * paced["seconds"] / self.job["shards"])
            threading.Thread(target=self._pace, daemon=True).start()
        else:
            self.paced_finished.set()
        ids = list(
            Notification.objects.filter(request_id__in=self.job["requests"]).order_by("pk").values_list("pk", flat=True)
        )[self.job["shard"] :: self.job["shards"]]
        related = ("category", "recipient", "recipient__notification_settings")
        for start in range(0, len(ids), WRITE_BATCH):
            batch = Notification.objects.filter(pk__in=ids[start : start + WRITE_BATCH]).select_related(*related)
            for send in self._sends(list(batch)):
                self.work.put((BULK, next(self.order), send))
            self._drain(timeout=None)
        expected = len(ids) + self.paced_total
        while not self._finished(expected) and time.time() < self.job["deadline"]:
            self._drain(timeout=WRITE_INTERVAL_SECONDS)
        self._write(force=True)
        for _ in threads:
            self.work.put((STOP, next(self.order), None))
        for thread in threads:
            thread.join(timeout=30)
        return {
            "shard": self.job["shard"],
            "deliveries": self.written,
            "failed": self.failed,
            "paced": self.paced_done,
            "complete": self.written >= expected,
            "seconds": round(time.time() - started, 2),
        }


def main() -> int:
    for channel in ALL_CHANNELS:
        provider_chain(channel)  # build every client before the clock starts
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        print(json.dumps(Shard(json.loads(line)).run()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
