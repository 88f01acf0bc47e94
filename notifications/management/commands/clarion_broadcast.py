from __future__ import annotations

import io
import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, OutputWrapper

from notifications.broadcast import (
    DEFAULT_CHUNK_SIZE,
    BroadcastError,
    BroadcastPlan,
    BroadcastResult,
    ChunkOutcome,
    CsvRecipients,
    broadcast_plan,
    broadcast_send,
    recipients_parse,
)

SHOWN_UNKNOWN = 20
BAR_WIDTH = 30


def progress_line(users_done: int, users_total: int, chunks_done: int, chunks_total: int) -> str:
    filled = BAR_WIDTH * users_done // users_total if users_total else BAR_WIDTH
    bar = "#" * filled + " " * (BAR_WIDTH - filled)
    return f"\r[{bar}] {users_done}/{users_total} users, {chunks_done}/{chunks_total} chunks"


def _plain(text: str) -> str:
    return text


def line_end(stderr: OutputWrapper) -> None:
    """End the progress bar's line, so what follows starts on a line of its own."""
    if stderr.isatty():
        stderr.write("", style_func=_plain)


class Progress:
    """A one-line bar on stderr, redrawn per chunk; silent when stderr is not a terminal."""

    def __init__(self, stderr: OutputWrapper, plan: BroadcastPlan) -> None:
        self.stderr = stderr
        self.enabled = stderr.isatty()
        self.users_total = plan.user_count
        self.chunks_total = len(plan.chunks)
        done = [chunk for chunk in plan.chunks if chunk.index in plan.accepted]
        self.users_done = sum(len(chunk.user_ids) for chunk in done)
        self.chunks_done = len(done)
        self._draw()

    def advance(self, outcome: ChunkOutcome) -> None:
        self.users_done += len(outcome.chunk.user_ids)
        self.chunks_done += 1
        self._draw()

    def end(self) -> None:
        line_end(self.stderr)

    def _draw(self) -> None:
        if self.enabled:
            line = progress_line(self.users_done, self.users_total, self.chunks_done, self.chunks_total)
            self.stderr.write(line, style_func=_plain, ending="")
            self.stderr.flush()


class Command(BaseCommand):
    help = (
        "Send one category to every user listed in a CSV, in chunks each accepted once: "
        "after an interruption, run the same command again to send only the rest."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--category", required=True, help="category slug")
        parser.add_argument(
            "--csv", required=True, dest="csv_path", help="UTF-8 CSV with a header row and a user_id column"
        )
        parser.add_argument("--data", default="{}", help="template data for every recipient, as a JSON object")
        parser.add_argument(
            "--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE, help=f"users per chunk (default {DEFAULT_CHUNK_SIZE})"
        )
        parser.add_argument(
            "--run-key",
            help="name of the run; default: a hash of category, data and users, so the same broadcast resumes. "
            "A new name sends the same broadcast again.",
        )
        parser.add_argument(
            "--skip-unknown", action="store_true", help="send to the known users when some ids are not active users"
        )
        parser.add_argument("--dry-run", action="store_true", help="validate and report; send nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self._broadcast(options)
        except KeyboardInterrupt:
            line_end(self.stderr)
            raise CommandError(
                "Interrupted. Every chunk is sent whole or not at all: run the same command again to send the rest.",
                returncode=130,
            ) from None

    def _broadcast(self, options: dict[str, Any]) -> None:
        data = self._data(options["data"])
        recipients = self._recipients(Path(options["csv_path"]))
        try:
            plan = broadcast_plan(
                options["category"], data, recipients.user_ids, options["chunk_size"], options["run_key"]
            )
        except BroadcastError as error:
            raise CommandError(str(error)) from error
        if plan.unknown and not options["skip_unknown"]:
            raise CommandError(
                f"{self._unknown(plan)} Nothing was sent; remove them from the CSV or pass --skip-unknown."
            )
        if options["dry_run"]:
            pending = plan.pending
            self.stdout.write(
                f"{self._heading(plan)} Dry run: {len(pending)} chunks "
                f"({sum(len(c.user_ids) for c in pending)} users) to send, {len(plan.accepted)} already accepted. "
                "Nothing was sent."
            )
            self._notes(recipients, plan)
            return
        progress = Progress(self.stderr, plan)
        try:
            result = broadcast_send(plan, on_chunk=progress.advance)
        except BroadcastError as error:
            progress.end()
            raise CommandError(str(error)) from error
        progress.end()
        self._summary(plan, recipients, result)

    def _data(self, raw: str) -> dict[str, Any]:
        try:
            data = json.loads(raw)
        except ValueError as error:
            raise CommandError(f"--data is not JSON: {error}") from error
        if not isinstance(data, dict):
            raise CommandError("--data must be a JSON object.")
        return data

    def _recipients(self, path: Path) -> CsvRecipients:
        try:
            # utf-8-sig: spreadsheet exports often start with a byte order mark.
            text = path.read_bytes().decode("utf-8-sig")
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}.") from error
        except UnicodeDecodeError as error:
            raise CommandError(f"{path} is not UTF-8 text (bad byte at offset {error.start}).") from error
        try:
            return recipients_parse(io.StringIO(text, newline=""))
        except BroadcastError as error:
            raise CommandError(f"{path}: {error}") from error

    def _heading(self, plan: BroadcastPlan) -> str:
        return f"Broadcast {plan.run_key} of '{plan.category}' to {plan.user_count} users in {len(plan.chunks)} chunks."

    def _unknown(self, plan: BroadcastPlan) -> str:
        ids = [str(pk) for pk in sorted(plan.unknown)]
        more = f" and {len(ids) - SHOWN_UNKNOWN} more" if len(ids) > SHOWN_UNKNOWN else ""
        return f"{len(ids)} user ids are not active users: {', '.join(ids[:SHOWN_UNKNOWN])}{more}."

    def _notes(self, recipients: CsvRecipients, plan: BroadcastPlan) -> None:
        if plan.unknown:
            self.stdout.write(f"Skipped: {self._unknown(plan)}")
        if recipients.duplicates:
            self.stdout.write(f"Ignored {recipients.duplicates} rows repeating a user id.")
        if recipients.ignored_columns:
            self.stdout.write(f"Ignored columns: {', '.join(recipients.ignored_columns)}.")

    def _summary(self, plan: BroadcastPlan, recipients: CsvRecipients, result: BroadcastResult) -> None:
        self.stdout.write(self._heading(plan))
        self.stdout.write(f"Sent now: {result.new_chunks} chunks, {result.new_notifications} notifications.")
        self.stdout.write(
            f"Already accepted: {len(plan.accepted) + result.raced_chunks} chunks (by an earlier or concurrent run)."
        )
        if result.empty_chunks:
            self.stdout.write(f"Nothing to send: {result.empty_chunks} chunks of unknown users only.")
        self._notes(recipients, plan)
        if not result.new_chunks and plan.accepted:
            self.stdout.write("This broadcast had already been sent; to send it again, pass a new --run-key.")
