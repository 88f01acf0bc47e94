"""`clarion_broadcast`: CSV parsing, chunk keys, and runs that can be interrupted and re-run
without any user getting a notification twice."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from notifications.broadcast import (
    API_KEY_NAME,
    BroadcastError,
    broadcast_plan,
    broadcast_send,
    chunks_build,
    recipients_parse,
    run_key_default,
)
from notifications.management.commands.clarion_broadcast import progress_line
from notifications.models import ApiKey, Notification, NotificationRequest
from tests import factories
from tests.support.processes import REPO_ROOT, ManagedProcess, wait_for


def parse(text: str):
    return recipients_parse(io.StringIO(text, newline=""))


def write_csv(directory: Path, text: str, name: str = "users.csv") -> str:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def users_csv(user_ids, extra_rows: str = "") -> str:
    return "user_id,name\n" + "".join(f"{pk},someone\n" for pk in user_ids) + extra_rows


def broadcast(*args: str, stderr: io.StringIO | None = None) -> str:
    out = io.StringIO()
    call_command("clarion_broadcast", "--category", "newsletter", *args, stdout=out, stderr=stderr or io.StringIO())
    return out.getvalue()


def sent_per_user() -> Counter:
    return Counter(Notification.objects.filter(category__slug="newsletter").values_list("recipient_id", flat=True))


def users_bulk(count: int) -> list[int]:
    user_model = get_user_model()
    user_model.objects.bulk_create(
        [user_model(username=f"bulk{i}", email=f"bulk{i}@example.com") for i in range(count)]
    )
    return list(user_model.objects.filter(username__startswith="bulk").values_list("pk", flat=True))


@pytest.fixture
def newsletter(db):
    return factories.category_with_templates(slug="newsletter")


@pytest.fixture
def five_users(newsletter) -> list[int]:
    return [factories.UserFactory().pk for _ in range(5)]


# --- CSV ---------------------------------------------------------------------------------


def test_csv_keeps_each_user_once_in_ascending_order_and_ignores_other_columns():
    recipients = parse("name, User_ID ,email\nada,7,a@example.com\n\nbob,3,b@example.com\nada again,007,\n")

    assert recipients.user_ids == [3, 7]
    assert (recipients.rows, recipients.duplicates) == (3, 1)
    assert recipients.ignored_columns == ["name", "email"]


def test_csv_bad_rows_are_all_listed_by_line_number():
    text = "name,user_id\nok,1\nx,abc\n\ny,-4\nz,0\nw,²\nv,99999999999999999999\nu,\nshort\nfine,5,extra\n"

    with pytest.raises(BroadcastError) as raised:
        parse(text)

    message = str(raised.value)
    assert message.startswith("7 bad rows in the CSV; nothing was sent:")
    assert "line 3: user_id 'abc' is not a positive whole number" in message
    for line in ("line 5: user_id '-4'", "line 6: user_id '0'", "line 7: user_id '²'", "line 8: user_id '9999"):
        assert line in message
    assert "line 9: no user_id" in message
    assert "line 10: no user_id" in message
    assert "line 2:" not in message
    assert "line 11:" not in message


def test_csv_without_a_user_id_column_or_without_users_is_refused():
    with pytest.raises(BroadcastError, match="no user_id column"):
        parse("id,name\n1,ada\n")
    with pytest.raises(BroadcastError, match="empty"):
        parse("")
    with pytest.raises(BroadcastError, match="lists no users"):
        parse("user_id\n\n , \n")
    with pytest.raises(BroadcastError, match="malformed at line 2"):
        parse('user_id\n"' + "1" * 200_000 + '"\n')


# --- chunks and keys -----------------------------------------------------------------------


def test_chunks_are_cut_the_same_from_the_same_users_in_any_row_order():
    first = parse("user_id\n1\n2\n3\n4\n5\n").user_ids
    second = parse("user_id,email\n5,e\n3,c\n1,a\n4,d\n2,b\n2,b\n").user_ids
    run_key = run_key_default("newsletter", {"issue": 7}, first)

    chunks = chunks_build("newsletter", {"issue": 7}, first, 2, run_key)

    assert run_key_default("newsletter", {"issue": 7}, second) == run_key
    assert chunks == chunks_build("newsletter", {"issue": 7}, second, 2, run_key)
    assert [chunk.user_ids for chunk in chunks] == [(1, 2), (3, 4), (5,)]
    assert [chunk.idempotency_key for chunk in chunks] == [f"broadcast:{run_key}:{i}" for i in range(3)]


def test_run_key_and_chunk_hashes_change_with_what_is_sent():
    run_key = run_key_default("newsletter", {"issue": 7}, [1, 2])

    assert run_key != run_key_default("offers", {"issue": 7}, [1, 2])
    assert run_key != run_key_default("newsletter", {"issue": 8}, [1, 2])
    assert run_key != run_key_default("newsletter", {"issue": 7}, [1, 3])
    # Under one run key (--run-key), other data gives other hashes: the reuse is caught.
    same_key = chunks_build("newsletter", {"issue": 7}, [1, 2], 2, "june")
    other_data = chunks_build("newsletter", {"issue": 8}, [1, 2], 2, "june")
    assert same_key[0].idempotency_key == other_data[0].idempotency_key
    assert same_key[0].body_hash != other_data[0].body_hash


def test_progress_line_fills_the_bar_by_users_sent():
    assert progress_line(2500, 5000, 25, 50) == f"\r[{'#' * 15}{' ' * 15}] 2500/5000 users, 25/50 chunks"
    assert progress_line(0, 5000, 0, 50) == f"\r[{' ' * 30}] 0/5000 users, 0/50 chunks"


# --- the command, in process ---------------------------------------------------------------


def test_broadcast_sends_each_listed_user_one_notification_and_a_rerun_sends_nothing(five_users, tmp_path):
    path = write_csv(tmp_path, users_csv(five_users, extra_rows=f"{five_users[0]},again\n"))
    args = ("--csv", path, "--chunk-size", "2", "--data", '{"issue": 7}')

    first = broadcast(*args)
    second = broadcast(*args)

    assert sent_per_user() == dict.fromkeys(five_users, 1)
    assert {n.data["issue"] for n in Notification.objects.all()} == {7}
    assert NotificationRequest.objects.filter(api_key__name=API_KEY_NAME).count() == 3
    assert "to 5 users in 3 chunks" in first
    assert "Sent now: 3 chunks, 5 notifications." in first
    assert "Ignored 1 rows repeating a user id." in first
    assert "Ignored columns: name." in first
    assert "Sent now: 0 chunks, 0 notifications." in second
    assert "Already accepted: 3 chunks" in second
    assert "pass a new --run-key" in second


def ctrl_c(outcome) -> None:
    """Ctrl-C right after the first chunk commits."""
    raise KeyboardInterrupt


def test_a_rerun_sends_only_the_chunks_an_interrupted_run_did_not_accept(five_users, tmp_path):
    path = write_csv(tmp_path, users_csv(five_users))
    plan = broadcast_plan("newsletter", {}, sorted(five_users), chunk_size=2)

    def ctrl_c_after_second_chunk(outcome) -> None:
        if outcome.chunk.index == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        broadcast_send(plan, on_chunk=ctrl_c_after_second_chunk)
    assert sum(sent_per_user().values()) == 4

    output = broadcast("--csv", path, "--chunk-size", "2")

    assert sent_per_user() == dict.fromkeys(five_users, 1)
    assert "Sent now: 1 chunks, 1 notifications." in output
    assert "Already accepted: 2 chunks" in output


def test_dry_run_reports_what_would_be_sent_and_writes_nothing(five_users, tmp_path):
    path = write_csv(tmp_path, users_csv(five_users))

    fresh = broadcast("--csv", path, "--chunk-size", "2", "--dry-run")
    assert not ApiKey.objects.filter(name=API_KEY_NAME).exists()
    with pytest.raises(KeyboardInterrupt):
        broadcast_send(broadcast_plan("newsletter", {}, sorted(five_users), chunk_size=2), on_chunk=ctrl_c)
    resumed = broadcast("--csv", path, "--chunk-size", "2", "--dry-run")

    assert "Dry run: 3 chunks (5 users) to send, 0 already accepted. Nothing was sent." in fresh
    assert "Dry run: 2 chunks (3 users) to send, 1 already accepted. Nothing was sent." in resumed
    assert sum(sent_per_user().values()) == 2


def test_unknown_user_ids_refuse_the_broadcast_unless_skipped(five_users, tmp_path):
    inactive = factories.UserFactory(is_active=False).pk
    path = write_csv(tmp_path, users_csv([*five_users, inactive, 999_999]))

    with pytest.raises(CommandError, match=rf"2 user ids are not active users: {inactive}, 999999\. Nothing was sent"):
        broadcast("--csv", path)
    assert not sent_per_user()

    output = broadcast("--csv", path, "--skip-unknown")

    assert sent_per_user() == dict.fromkeys(five_users, 1)
    assert f"Skipped: 2 user ids are not active users: {inactive}, 999999." in output


def test_bad_rows_refuse_the_whole_file_and_send_nothing(five_users, tmp_path):
    path = write_csv(tmp_path, users_csv(five_users, extra_rows="x,bad\n"))

    with pytest.raises(CommandError, match="line 7: user_id 'x' is not a positive whole number") as raised:
        broadcast("--csv", path)

    assert raised.value.returncode != 0
    assert not sent_per_user()


def test_a_run_key_reused_with_other_input_is_refused(five_users, tmp_path):
    path = write_csv(tmp_path, users_csv(five_users))
    broadcast("--csv", path, "--chunk-size", "2")
    broadcast("--csv", path, "--run-key", "june-issue", "--data", '{"issue": 6}')

    with pytest.raises(CommandError, match="started with different input"):
        broadcast("--csv", path, "--chunk-size", "3")
    with pytest.raises(CommandError, match="Run june-issue was started with different input"):
        broadcast("--csv", path, "--run-key", "june-issue", "--data", '{"issue": 7}')
    assert sent_per_user() == dict.fromkeys(five_users, 2)


def test_a_new_run_key_sends_the_same_broadcast_again(five_users, tmp_path):
    path = write_csv(tmp_path, users_csv(five_users))

    broadcast("--csv", path)
    again = broadcast("--csv", path, "--run-key", "reminder-1")

    assert sent_per_user() == dict.fromkeys(five_users, 2)
    assert "Broadcast reminder-1 of 'newsletter'" in again


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--csv", "missing.csv"], "Cannot read"),
        (["--csv", "latin1.csv"], "not UTF-8 text"),
        (["--csv", "users.csv", "--data", "{"], "--data is not JSON"),
        (["--csv", "users.csv", "--data", "[1]"], "--data must be a JSON object"),
        (["--csv", "users.csv", "--category", "nope"], "No enabled category 'nope'"),
        (["--csv", "users.csv", "--chunk-size", "0"], "chunk size must be between 1 and"),
        (["--csv", "users.csv", "--run-key", "a:b"], "A run key is 1 to 100 letters"),
    ],
)
def test_bad_arguments_are_command_errors_and_send_nothing(five_users, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path, users_csv(five_users))
    (tmp_path / "latin1.csv").write_bytes("user_id,name\n1,Zoë\n".encode("latin-1"))

    with pytest.raises(CommandError, match=message):
        broadcast(*args)

    assert not sent_per_user()


def test_a_utf8_byte_order_mark_is_not_part_of_the_header(five_users, tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(users_csv(five_users).encode("utf-8-sig"))

    broadcast("--csv", str(path))

    assert sent_per_user() == dict.fromkeys(five_users, 1)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_is_drawn_on_a_terminal_and_nowhere_else(five_users, tmp_path):
    path = write_csv(tmp_path, users_csv(five_users))
    terminal, pipe = Terminal(), io.StringIO()

    broadcast("--csv", path, "--chunk-size", "2", stderr=terminal)
    broadcast("--csv", path, "--chunk-size", "2", "--run-key", "again", stderr=pipe)

    assert terminal.getvalue().split("\r")[1:] == [
        progress_line(0, 5, 0, 3)[1:],
        progress_line(2, 5, 1, 3)[1:],
        progress_line(4, 5, 2, 3)[1:],
        progress_line(5, 5, 3, 3)[1:] + "\n",
    ]
    assert pipe.getvalue() == ""


# --- the command as a real process --------------------------------------------------------

PROOF_USERS = 5000
PROOF_CHUNK = 25


def command(csv_path: str, chunk_size: int) -> list[str]:
    return [
        sys.executable,
        "manage.py",
        "clarion_broadcast",
        "--category",
        "newsletter",
        "--csv",
        csv_path,
        "--chunk-size",
        str(chunk_size),
    ]


def run_to_completion(processes, args: list[str]) -> str:
    finished = subprocess.run(
        args, cwd=REPO_ROOT, env=processes.base_env, capture_output=True, text=True, timeout=300, check=False
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return finished.stdout


def interrupt_mid_run(process: ManagedProcess, signum: int, at_least: int, total: int) -> int:
    """Signal the broadcast once the database shows `at_least` notifications, let it exit, and
    return how many it sent. It is frozen (SIGSTOP) the moment the count is seen, so however
    fast its chunks go, none is accepted between that look and the signal."""
    try:
        wait_for(
            lambda: sum(sent_per_user().values()) >= at_least or not process.running,
            timeout=120,
            interval=0.01,
            message=f"the broadcast to accept {at_least} notifications",
        )
        os.kill(process.process.pid, signal.SIGSTOP)
        os.kill(process.process.pid, signum)
        os.kill(process.process.pid, signal.SIGCONT)
        process.process.wait(timeout=60)
    finally:
        process.kill()
    partial = sum(sent_per_user().values())
    assert at_least <= partial < total, f"not interrupted mid-run:\n{process.log()[-3000:]}"
    return partial


@pytest.mark.e2e
def test_broadcast_to_5000_users_killed_mid_run_and_rerun_sends_each_user_exactly_one(processes, tmp_path):
    """The acceptance proof: SIGKILL the command mid-run, re-run it, then re-run it again.

    No Celery worker runs: what a broadcast promises is one accepted Notification per user
    (the pipeline from accepted rows on is proven by the e2e pipeline tests, and the sweeper
    enqueues rows whose post-commit publish a kill cut off).
    """
    factories.category_with_templates(slug="newsletter")
    user_ids = users_bulk(PROOF_USERS)
    path = write_csv(tmp_path, users_csv(reversed(user_ids)))
    args = command(path, PROOF_CHUNK)
    chunks = PROOF_USERS // PROOF_CHUNK

    first = ManagedProcess("broadcast", args, processes.base_env, tmp_path).start()
    partial = interrupt_mid_run(first, signal.SIGKILL, 1000, PROOF_USERS)
    # A kill never leaves part of a chunk: each chunk commits whole or not at all.
    assert partial % PROOF_CHUNK == 0
    rerun = run_to_completion(processes, args)
    after_rerun = sent_per_user()
    once_more = run_to_completion(processes, args)

    assert after_rerun == dict.fromkeys(user_ids, 1)
    assert f"Sent now: {chunks - partial // PROOF_CHUNK} chunks, {PROOF_USERS - partial} notifications." in rerun
    assert f"Already accepted: {partial // PROOF_CHUNK} chunks" in rerun
    assert "Sent now: 0 chunks, 0 notifications." in once_more
    assert f"Already accepted: {chunks} chunks" in once_more
    assert sent_per_user() == after_rerun
    assert NotificationRequest.objects.filter(api_key__name=API_KEY_NAME).count() == chunks


@pytest.mark.e2e
def test_ctrl_c_stops_a_broadcast_with_a_hint_and_a_rerun_finishes_it(processes, tmp_path):
    factories.category_with_templates(slug="newsletter")
    # A thousand chunks of two, signalled after the first ten: a chunk takes about a
    # millisecond on SQLite, so the signal must land early in a long run to land mid-run.
    users, chunk = 2000, 2
    user_ids = users_bulk(users)
    args = command(write_csv(tmp_path, users_csv(user_ids)), chunk)

    first = ManagedProcess("broadcast", args, processes.base_env, tmp_path).start()
    partial = interrupt_mid_run(first, signal.SIGINT, 20, users)
    rerun = run_to_completion(processes, args)

    assert first.process.returncode == 130
    assert "Interrupted. Every chunk is sent whole or not at all: run the same command again" in first.log()
    assert "Traceback" not in first.log()
    assert partial % chunk == 0
    assert f"Sent now: {(users - partial) // chunk} chunks, {users - partial} notifications." in rerun
    assert sent_per_user() == dict.fromkeys(user_ids, 1)
