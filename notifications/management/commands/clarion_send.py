from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from notifications.api_keys import api_key_create
from notifications.models import ApiKey
from notifications.services import AcceptError, AcceptRequest, body_hash, notification_accept

CLI_KEY_NAME = "manage.py clarion_send"


class Command(BaseCommand):
    help = "Send a one-off notification through the normal pipeline."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--category", required=True, help="category slug")
        parser.add_argument("--to", required=True, action="append", help="user id, username or email (repeatable)")
        parser.add_argument("--data", default="{}", help="template data as a JSON object")
        parser.add_argument("--channels", default="", help="comma-separated channels; default: the category's")
        parser.add_argument("--priority", choices=["high", "normal", "low"])

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            data = json.loads(options["data"])
        except ValueError as error:
            raise CommandError(f"--data is not JSON: {error}") from error
        if not isinstance(data, dict):
            raise CommandError("--data must be a JSON object.")
        # Notifications belong to an API key; the command has its own, whose secret nobody holds.
        api_key = ApiKey.objects.filter(name=CLI_KEY_NAME, revoked_at__isnull=True).first()
        api_key = api_key or api_key_create(CLI_KEY_NAME)[0]
        request = AcceptRequest(
            category=options["category"],
            recipients=options["to"],
            data=data,
            priority=options["priority"],
            channels=[c.strip() for c in options["channels"].split(",") if c.strip()],
            body_hash=body_hash(options),
        )
        try:
            result = notification_accept(api_key, request)
        except AcceptError as error:
            raise CommandError(error.message) from error
        for notification in result.notifications:
            self.stdout.write(f"{notification.pk} → user {notification.recipient_id}: {notification.status}")
