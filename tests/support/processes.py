"""Real Clarion processes for end-to-end tests: the ASGI server, Celery workers and beat.

Each runs in its own session (process group), so a test can SIGKILL a worker together with
its pool children, as a crashed machine would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import requests

from scripts.embedded_redis import free_port
from scripts.run import WORKER_TOPOLOGY, worker_command

REPO_ROOT = Path(__file__).resolve().parents[2]


def wait_for(condition: Callable[[], object], timeout: float, interval: float = 0.05, message: str = "") -> object:
    """Poll until `condition()` is truthy; fail the test with `message` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message or condition}")
        time.sleep(interval)


class ManagedProcess:
    def __init__(self, name: str, command: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.command = command
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ManagedProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command, cwd=REPO_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_log(self, text: str, timeout: float = 30.0) -> None:
        def seen() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.log()[-3000:]}")
            return text in self.log()

        wait_for(seen, timeout, interval=0.1, message=f"{self.name} to log {text!r}")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group: no warm shutdown, no acknowledgements."""
        if self.running:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def terminate(self) -> None:
        """SIGTERM the process group: a warm shutdown, which `wait_stopped` waits for."""
        if self.running:
            os.killpg(self.process.pid, signal.SIGTERM)

    def wait_stopped(self) -> None:
        """Wait for the shutdown a SIGTERM started; SIGKILL after 15 s."""
        if not self.running:
            return
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    def stop(self) -> None:
        self.terminate()
        self.wait_stopped()


class ProcessFactory:
    """Starts processes for one test and stops all of them at its end."""

    def __init__(self, base_env: dict[str, str], log_dir: Path) -> None:
        self.base_env = base_env
        self.log_dir = log_dir
        self.started: list[ManagedProcess] = []
        self._count = 0

    def _spawn(self, name: str, command: list[str], env: dict[str, str] | None) -> ManagedProcess:
        self._count += 1
        process = ManagedProcess(f"{name}-{self._count}", command, {**self.base_env, **(env or {})}, self.log_dir)
        self.started.append(process)
        return process.start()

    def worker(
        self, env: dict[str, str] | None = None, concurrency: int = 2, queues: str | None = None
    ) -> ManagedProcess:
        command = worker_command(
            [
                *("--concurrency", str(concurrency), "--hostname", f"test{self._count + 1}@%h"),
                *("--without-gossip", "--without-mingle", "--without-heartbeat"),
            ]
        )
        if queues:
            command += ["--queues", queues]
        process = self._spawn("worker", command, env)
        process.wait_for_log(" ready.")
        return process

    def workers(self, env: dict[str, str] | None = None) -> dict[str, ManagedProcess]:
        """The workers `make run` starts (scripts/run.py's WORKER_TOPOLOGY), by name: one for
        bulk traffic and one of its own for the critical queue."""
        quiet = ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        started = {
            name: self._spawn(name, [*worker_command(options), *quiet], env)
            for name, options in WORKER_TOPOLOGY.items()
        }
        for process in started.values():
            process.wait_for_log(" ready.")
        return started

    def beat(self, env: dict[str, str] | None = None) -> ManagedProcess:
        schedule = self.log_dir / f"beat-schedule-{self._count + 1}"
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "beat",
            "--loglevel",
            "INFO",
            "--scheduler",
            "celery.beat:PersistentScheduler",
            "--schedule",
            str(schedule),
        ]
        process = self._spawn("beat", command, env)
        process.wait_for_log("beat: Starting")
        return process

    def web(self, env: dict[str, str] | None = None, port: int | None = None) -> tuple[ManagedProcess, str]:
        port = port or free_port()
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            # At shutdown a websocket consumer waits out its last channel-layer poll (5 s):
            # a test's server stops at once instead.
            "--timeout-graceful-shutdown",
            "1",
        ]
        process = self._spawn("web", command, env)
        base_url = f"http://127.0.0.1:{port}"

        def answers() -> bool:
            if not process.running:
                raise AssertionError(f"web server exited:\n{process.log()[-3000:]}")
            try:
                return requests.get(f"{base_url}/api/v1/notifications", timeout=1).status_code == 401
            except (requests.ConnectionError, requests.Timeout):
                # Not listening yet, or still importing the URLconf on its first request.
                return False

        wait_for(answers, 30, interval=0.1, message="the web server to answer")
        return process, base_url

    def stop_all(self) -> None:
        # All told at once, then waited for: each takes a second or more to shut down.
        for process in reversed(self.started):
            process.terminate()
        for process in reversed(self.started):
            process.wait_stopped()
