"""`make run`: the whole system on one machine, stopped together by Ctrl-C.

Starts an embedded Redis when REDIS_URL is unset, then the ASGI server (HTTP and
websockets), the Celery workers of WORKER_TOPOLOGY (one for bulk traffic, one of its own for
the critical queue), and celery beat with django-celery-beat's DatabaseScheduler.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from scripts.embedded_redis import EmbeddedRedis

HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parent.parent

# Which worker takes which of config/celery.py's queues, and how (README, "Workers"). Prefetch
# is 1 everywhere (CELERY_WORKER_PREFETCH_MULTIPLIER): a chunk task runs for seconds, and one
# waiting behind it in a busy process is one another process could have taken.
WORKER_TOPOLOGY: dict[str, list[str]] = {
    # Plan, route and send bulk traffic; releases, the sweeper and digests. Four processes on
    # two cores: each spends about half its time waiting on PostgreSQL and Redis round trips
    # (measured with py-spy under `make bench`), so two left a core idle; each also overlaps
    # its provider calls on CLARION_SEND_CONCURRENCY threads.
    "worker": [
        *("--queues", "pipeline,email,sms,push,in_app,scheduled,maintenance"),
        *("--pool", "prefork", "--concurrency", "4", "--hostname", "bulk@%h"),
    ],
    # Security and high-priority notifications, from API to provider, and their retries: no
    # bulk task can ever be ahead of them. Their tasks wait on providers, not on the CPU, so
    # threads give eight at once in one process (~100 MB) where prefork would need eight.
    "critical": ["--queues", "critical", "--pool", "threads", "--concurrency", "8", "--hostname", "critical@%h"],
}


# Workers and beat run below the web server's CPU priority: an app waiting for its 202 goes
# before a backlog of deliveries, which only needs the cores the API leaves over. Each runs in
# a session of its own, so its session's scheduling group is niced too (the module says why).
BACKGROUND_PRIORITY = [sys.executable, "-m", "scripts.background_priority", "10"]


def worker_command(options: list[str]) -> list[str]:
    return [
        *BACKGROUND_PRIORITY,
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--loglevel",
        "INFO",
        *options,
    ]


def _commands(port: str) -> dict[str, list[str]]:
    python = sys.executable
    return {
        "web": [
            *(python, "-m", "uvicorn", "config.asgi:application", "--host", HOST, "--port", port, "--no-access-log"),
            # One process holds one core at most (the GIL), and the API alone can use more than
            # that; websockets reach every process through the Redis channel layer.
            *("--workers", os.environ.get("WEB_CONCURRENCY", "2")),
        ],
        **{name: worker_command(options) for name, options in WORKER_TOPOLOGY.items()},
        "beat": [
            *BACKGROUND_PRIORITY,
            python,
            "-m",
            "celery",
            "-A",
            "config",
            "beat",
            "--loglevel",
            "INFO",
            "--scheduler",
            "django_celery_beat.schedulers:DatabaseScheduler",
        ],
    }


def _metrics_dir_reset(env: dict[str, str]) -> None:
    """Empty the metrics directory the three processes will share (settings' default, unless
    PROMETHEUS_MULTIPROC_DIR is set): a previous run's files would be added into the counts."""
    metrics_dir = Path(env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(REPO_ROOT / "var" / "prometheus")))
    metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in metrics_dir.glob("*.db"):
        stale.unlink()


def main() -> int:
    port = os.environ.get("CLARION_PORT", "8000")
    env = dict(os.environ)
    _metrics_dir_reset(env)
    processes: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    with ExitStack() as stack:
        if not env.get("REDIS_URL"):
            redis_server = stack.enter_context(EmbeddedRedis())
            env["REDIS_URL"] = redis_server.url
            print(f"embedded Redis  {redis_server.url}")
        for name, command in _commands(port).items():
            # Own sessions: a terminal's Ctrl-C reaches only this supervisor, which stops the
            # web server, worker and beat first (the worker acknowledges what it finished)
            # and the embedded Redis last.
            processes[name] = subprocess.Popen(command, env=env, start_new_session=True)  # noqa: S603
        base = f"http://{HOST}:{port}"
        print(
            f"\nClarion is starting:\n  site       {base}/\n  admin      {base}/admin/\n"
            f"  API        {base}/api/v1/\n  websocket  ws://{HOST}:{port}/ws/notifications/\n"
            "Press Ctrl-C to stop everything.\n",
            flush=True,
        )
        exit_code = 0
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    print(f"{name} exited with {process.returncode}; stopping the rest", file=sys.stderr)
                    exit_code = process.returncode or 1
                    stopping = True
            time.sleep(0.5)
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 15
        for process in processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
