from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from delivery.status import pipeline_status


class Command(BaseCommand):
    help = "Print queue depths, the scheduled backlog, dead letters and deliveries by status."

    def handle(self, *args: Any, **options: Any) -> None:
        status = pipeline_status()
        self.stdout.write("queue depths (Redis)")
        for queue, depth in status.queue_depths.items():
            self.stdout.write(f"  {queue:<12} {'unreachable' if depth is None else depth:>10}")
        self.stdout.write("pipeline (database)")
        self.stdout.write(f"  {'accepted, not yet planned':<26} {status.notifications_waiting:>10}")
        self.stdout.write(f"  {'scheduled backlog':<26} {status.scheduled_backlog:>10}")
        self.stdout.write(f"  {'dead letters (failed)':<26} {status.dead_letters:>10}")
        self.stdout.write("deliveries by status")
        for name, count in status.deliveries_by_status.items():
            self.stdout.write(f"  {name:<12} {count:>10}")
