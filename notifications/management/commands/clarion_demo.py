from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand

from notifications.demo import demo_load


class Command(BaseCommand):
    help = "Load demo categories, templates, users and an API key (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        result = demo_load(
            admin_password=os.environ.get("CLARION_ADMIN_PASSWORD") or None,
            demo_password=os.environ.get("CLARION_DEMO_PASSWORD") or None,
        )
        self.stdout.write("Demo data is loaded.")
        if result.admin_password:
            self.stdout.write(f"  staff user  : {result.admin_username} / {result.admin_password}  (shown once)")
        if result.demo_password:
            self.stdout.write(f"  end user    : {result.demo_username} / {result.demo_password}  (shown once)")
        if result.api_key:
            self.stdout.write(f"  API key     : {result.api_key}  (shown once)")
