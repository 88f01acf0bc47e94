from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from notifications.api_keys import api_key_create, api_key_revoke


class Command(BaseCommand):
    help = "Create an API key (printed once) or revoke one by its prefix."

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="create a key and print it once")
        create.add_argument("name")
        revoke = actions.add_parser("revoke", help="revoke the key with this prefix")
        revoke.add_argument("prefix")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "create":
            api_key, raw_key = api_key_create(options["name"])
            self.stdout.write(f"API key '{api_key.name}' (prefix {api_key.prefix}); shown once, store it now:")
            self.stdout.write(raw_key)
            return
        revoked = api_key_revoke(options["prefix"])
        if revoked is None:
            raise CommandError(f"No active key with prefix {options['prefix']}.")
        self.stdout.write(f"Revoked '{revoked.name}' ({revoked.prefix}).")
