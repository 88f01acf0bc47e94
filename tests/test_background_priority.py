"""scripts/background_priority.py: background processes go below the web server's CPU
priority even in sessions of their own, as `make run` and the bench start them."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys

import pytest

from scripts.background_priority import AUTOGROUP, autogroup_nice_set
from scripts.run import BACKGROUND_PRIORITY, REPO_ROOT, _commands

# What a started process reports of its own niceness and its session group's.
REPORT = (
    "import json, os, pathlib; group = pathlib.Path('/proc/self/autogroup');"
    "print(json.dumps({'nice': os.nice(0), 'group': group.read_text() if group.exists() else None}))"
)


def _started_in_own_session(command: list[str]) -> dict:
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=60, start_new_session=True, check=True, cwd=REPO_ROOT
    )
    return json.loads(done.stdout)


def test_the_command_runs_niced_by_the_increment():
    report = _started_in_own_session([*BACKGROUND_PRIORITY, sys.executable, "-c", REPORT])

    assert report["nice"] == os.nice(0) + 10


@pytest.mark.skipif(not AUTOGROUP.exists(), reason="this kernel does not group CPU time by session")
def test_its_session_group_is_niced_too():
    plain = _started_in_own_session([sys.executable, "-c", REPORT])
    niced = _started_in_own_session([*BACKGROUND_PRIORITY, sys.executable, "-c", REPORT])

    assert plain["group"].split()[-1] == "0"
    assert niced["group"].split()[-1] == str(niced["nice"])


def test_workers_and_beat_start_below_the_web_server():
    commands = _commands("8000")

    assert commands["web"][: len(BACKGROUND_PRIORITY)] != BACKGROUND_PRIORITY
    for name in ("worker", "critical", "beat"):
        assert commands[name][: len(BACKGROUND_PRIORITY)] == BACKGROUND_PRIORITY


def test_no_session_groups_means_plain_nice(tmp_path):
    assert autogroup_nice_set(10, tmp_path / "absent" / "autogroup") is False


class _RefusedTwice:
    """An autogroup file the kernel's rate limit refuses twice before taking the write."""

    def __init__(self) -> None:
        self.attempts = 0
        self.written: str | None = None

    def write_text(self, text: str) -> None:
        self.attempts += 1
        if self.attempts <= 2:
            raise OSError(errno.EAGAIN, "Resource temporarily unavailable")
        self.written = text


def test_a_rate_limited_change_is_tried_again(monkeypatch):
    monkeypatch.setattr("scripts.background_priority.AUTOGROUP_RETRY_SECONDS", 0)
    autogroup = _RefusedTwice()

    assert autogroup_nice_set(10, autogroup) is True  # type: ignore[arg-type]
    assert (autogroup.attempts, autogroup.written) == (3, "10")


def test_without_a_command_it_says_how_to_use_it():
    done = subprocess.run(
        [sys.executable, "-m", "scripts.background_priority", "10"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
        check=False,
    )

    assert done.returncode == 2
    assert "INCREMENT COMMAND" in done.stderr
