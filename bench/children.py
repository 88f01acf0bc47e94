"""The bench's child processes: each in its own session with its output in a log file (or,
for the ones the bench talks to, a line protocol on stdin/stdout), stopped with its group."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class PeakRss:
    name: str  # the child's name, e.g. "clarion-critical"
    role: str  # what it is to the system: "web", "worker", "beat"
    pid: int
    forked: bool  # a process the child forked (Celery's prefork pool)
    megabytes: float


def _status_kib(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # gone while we looked
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


class Child:
    def __init__(
        self, name: str, command: list[str], env: dict[str, str], log_dir: Path, *, talks: bool = False, role: str = ""
    ) -> None:
        self.name = name
        self.role = role
        self.command = command
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.talks = talks  # stdin/stdout are a line protocol with the bench
        self.process: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()

    def start(self) -> Child:
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=REPO_ROOT,
                env=self.env,
                stdin=subprocess.PIPE if self.talks else subprocess.DEVNULL,
                stdout=subprocess.PIPE if self.talks else log,
                stderr=log,
                text=True,
                bufsize=1,
                start_new_session=True,
            )
        if self.talks:
            threading.Thread(target=self._read_lines, name=f"{self.name}-stdout", daemon=True).start()
        return self

    def _read_lines(self) -> None:
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, characters: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-characters:] if self.log_path.exists() else ""

    def send(self, line: str) -> None:
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def receive(self, timeout: float) -> dict[str, Any]:
        """The next JSON object the child prints on a line of its own (a library printing
        something else to stdout is skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise RuntimeError(f"{self.name} said nothing within {timeout}s:\n{self.log_tail()}") from None
            if line is None:
                raise RuntimeError(f"{self.name} exited:\n{self.log_tail()}")
            if line.startswith("{"):
                return json.loads(line)

    def peak_rss(self) -> list[PeakRss]:
        """The peak resident memory (VmHWM) so far of the child and every process it forked."""
        if not self.running:
            return []
        peaks = []
        for pid in [self.process.pid, *descendants(self.process.pid)]:
            kib = _status_kib(pid, "VmHWM")
            if kib is not None:
                peaks.append(PeakRss(self.name, self.role, pid, pid != self.process.pid, round(kib / 1024, 1)))
        return peaks

    def terminate(self) -> None:
        """SIGTERM the process group; `wait_stopped` waits for it to end."""
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)

    def stop(self, timeout: float = 15) -> None:
        self.terminate()
        self.wait_stopped(timeout)

    def wait_stopped(self, timeout: float = 15) -> None:
        """Wait for the shutdown a SIGTERM started; SIGKILL after `timeout`."""
        if not self.running:
            return
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        if self.process.stdin:
            self.process.stdin.close()
