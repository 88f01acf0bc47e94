"""1,000 inbox websockets against one ASGI process: connection errors, and the time from
`group_send` to receipt.

    .venv/bin/python -m bench.inbox_sockets [--sockets 1000] [--rounds 5] [--rate 2000]

Starts what it needs and stops it all at the end (or after --timeout seconds): a SQLite
database in a temporary folder (unless DATABASE_URL is set), an embedded Redis (unless
REDIS_URL is set) and one uvicorn process on 127.0.0.1. Creates one user per socket, mints
an inbox token for each, opens every socket with `?token=` and waits for its hello, then
publishes `rounds` events per user through the channels-redis layer, as a worker's
`inbox_push` does, paced at `rate` events a second. Latency is measured in this process
(publisher and clients share a clock), so it includes the clients' own scheduling.
This is a load script, not a test: it prints figures and asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Results:
    sockets: int
    connected: int = 0
    connect_errors: list[str] = field(default_factory=list)
    published: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    unexpected_closes: int = 0
    close_reasons: list[str] = field(default_factory=list)
    connect_seconds: float = 0.0
    publish_seconds: float = 0.0


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] if ordered else float("nan")


def _prepare_environment(workdir: Path) -> tuple[object | None, dict[str, str]]:
    """DATABASE_URL and REDIS_URL for this process and the server; returns the embedded Redis
    if one was started."""
    from scripts.embedded_redis import EmbeddedRedis

    redis = None
    if "REDIS_URL" not in os.environ:
        redis = EmbeddedRedis().start()
        os.environ["REDIS_URL"] = redis.url
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{workdir / 'bench.sqlite3'}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["CLARION_LOG_LEVEL"] = "WARNING"
    return redis, {**os.environ, "PYTHONUNBUFFERED": "1"}


def _users_and_tokens(count: int) -> list[tuple[int, str]]:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from notifications.inbox_tokens import inbox_token_create

    call_command("migrate", verbosity=0)
    user_model = get_user_model()
    names = [f"bench_socket_{i}" for i in range(count)]
    existing = set(user_model.objects.filter(username__in=names).values_list("username", flat=True))
    user_model.objects.bulk_create([user_model(username=name) for name in names if name not in existing])
    users = user_model.objects.filter(username__in=names).order_by("pk")
    return [(user.pk, inbox_token_create(user, lifetime_seconds=3600).token) for user in users]


def _start_server(env: dict[str, str], workdir: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    from scripts.embedded_redis import free_port

    port = free_port()
    log_path = workdir / "uvicorn.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "config.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return server, f"127.0.0.1:{port}", log_path


async def _wait_for_server(server: subprocess.Popen[bytes], address: str, timeout: float) -> None:
    host, port = address.split(":")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {server.returncode}")
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection(host, int(port))
            writer.close()
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("uvicorn did not start listening in time")


async def _run(args: argparse.Namespace, users: list[tuple[int, str]], address: str, results: Results) -> None:
    from channels.layers import get_channel_layer
    from websockets.asyncio.client import ClientConnection, connect

    from notifications.inbox import inbox_group_name

    expected = len(users) * args.rounds
    all_received = asyncio.Event()
    limit = asyncio.Semaphore(args.connect_concurrency)

    async def open_socket(token: str) -> ClientConnection | None:
        async with limit:
            try:
                socket = await connect(
                    f"ws://{address}/ws/notifications/?token={token}",
                    origin=f"http://{address}",
                    open_timeout=30,
                    ping_interval=None,
                )
                hello = json.loads(await asyncio.wait_for(socket.recv(), timeout=30))
                if hello.get("type") != "hello":
                    raise RuntimeError(f"first message was {hello.get('type')}")
            except Exception as error:  # every failure to connect counts, whatever its kind
                results.connect_errors.append(f"{type(error).__name__}: {error}")
                return None
            results.connected += 1
            return socket

    async def read(socket: ClientConnection) -> None:
        try:
            async for frame in socket:
                received = time.perf_counter()
                message = json.loads(frame)
                if message["type"] == "notification.created":
                    results.latencies_ms.append((received - message["item"]["data"]["sent"]) * 1000)
                    if len(results.latencies_ms) >= expected:
                        all_received.set()
        except Exception as error:  # a dropped socket is counted, not raised
            results.unexpected_closes += 1
            results.close_reasons.append(f"{type(error).__name__}: {error}")

    started = time.perf_counter()
    sockets = await asyncio.gather(*(open_socket(token) for _, token in users))
    results.connect_seconds = time.perf_counter() - started
    readers = [asyncio.create_task(read(socket)) for socket in sockets if socket is not None]

    layer = get_channel_layer()
    interval = 1 / args.rate
    started = next_send = time.perf_counter()
    sequence = 0
    for _ in range(args.rounds):
        for (user_id, _), socket in zip(users, sockets, strict=True):
            if socket is None:
                continue
            sequence += 1
            delay = next_send - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            next_send += interval
            event = {
                "type": "inbox.item",
                "silent": False,
                "item": {"id": sequence, "title": "bench", "data": {"sent": time.perf_counter()}},
                "counts": {"unseen": 1, "unread": 1, "total": 1},
            }
            await layer.group_send(inbox_group_name(user_id), event)
            results.published += 1
    results.publish_seconds = time.perf_counter() - started
    expected = results.published
    if len(results.latencies_ms) >= expected:
        all_received.set()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_received.wait(), timeout=args.drain_seconds)

    await asyncio.gather(*(socket.close() for socket in sockets if socket is not None), return_exceptions=True)
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


def _report(results: Results) -> dict[str, object]:
    latencies = results.latencies_ms
    return {
        "sockets": results.sockets,
        "connected": results.connected,
        "connection_errors": len(results.connect_errors),
        "first_errors": sorted(set(results.connect_errors))[:5],
        "connect_seconds": round(results.connect_seconds, 2),
        "events_published": results.published,
        "events_received": len(latencies),
        "events_lost": results.published - len(latencies),
        "unexpected_closes": results.unexpected_closes,
        "first_close_reasons": sorted(set(results.close_reasons))[:5],
        "publish_rate_per_s": round(results.published / results.publish_seconds) if results.publish_seconds else 0,
        "latency_ms": {
            "p50": round(_percentile(latencies, 0.50), 1),
            "p90": round(_percentile(latencies, 0.90), 1),
            "p99": round(_percentile(latencies, 0.99), 1),
            "max": round(max(latencies), 1) if latencies else None,
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5, help="events per socket")
    parser.add_argument("--rate", type=float, default=2000, help="events published per second")
    parser.add_argument("--connect-concurrency", type=int, default=100, help="handshakes in flight at once")
    parser.add_argument("--drain-seconds", type=float, default=30, help="wait for stragglers after publishing")
    parser.add_argument("--timeout", type=float, default=300, help="stop everything after this long")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="clarion-bench-sockets-"))
    redis, env = _prepare_environment(workdir)
    server = None
    results = Results(sockets=args.sockets)
    try:
        users = _users_and_tokens(args.sockets)
        server, address, log_path = _start_server(env, workdir)

        async def bounded() -> None:
            await _wait_for_server(server, address, timeout=30)
            await _run(args, users, address, results)

        try:
            asyncio.run(asyncio.wait_for(bounded(), timeout=args.timeout))
        except TimeoutError:
            print(f"stopped after --timeout {args.timeout}s; figures so far:", file=sys.stderr)
        if server.poll() is not None or results.close_reasons or results.connect_errors:
            print(log_path.read_text(errors="replace")[-3000:], file=sys.stderr)
    finally:
        if server is not None:
            _stop(server)
        if redis is not None:
            redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    report = _report(results)
    print(json.dumps(report, indent=2))
    return 0 if report["connection_errors"] == 0 and report["events_lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
