"""The three systems each scenario runs against, behind one interface:

* clarion: `make run`'s own processes (scripts/run.py's commands: web, workers, beat);
* naive: bench/naive_pipeline.py's worker, fed by the references' web server;
* ceiling: bench/ceiling.py's shard processes, fed by the same web server.

All of them use the same database, Redis, provider servers and settings (bench.settings,
which only adds a statement counter), and start with a warm-up send on every channel.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import redis
import requests

from bench.children import Child, PeakRss, descendants
from bench.sizes import Sizes
from bench.stores import queues_purge, tables_reset, tasks_pending, unacked_forget
from scripts.embedded_redis import free_port
from scripts.run import BACKGROUND_PRIORITY
from scripts.run import _commands as run_commands

HOST = "127.0.0.1"
POST_CONCURRENCY = 4
SETTLE_SECONDS = 60


@dataclass(frozen=True)
class Post:
    category: str
    recipients: list[str]


@dataclass(frozen=True)
class Paced:
    """Single-recipient notifications at a fixed rate, each stamped with its due time."""

    category: str
    recipients: list[str]
    rate: float
    seconds: float


@dataclass(frozen=True)
class Ack:
    started: float  # epoch seconds
    finished: float
    status: int
    body: dict[str, Any] | None


@dataclass
class Sending:
    """A scenario's traffic, under way in threads of the bench."""

    t0: float = field(default_factory=time.time)
    acks: list[Ack] = field(default_factory=list)
    acked: threading.Event = field(default_factory=threading.Event)
    paced_started: float | None = None
    paced: dict[str, Any] | None = None  # what the paced sender reports
    finished: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class WorkerShape:
    name: str  # as scripts/run.py names the worker
    pool: str
    concurrency: int


@dataclass(frozen=True)
class Layout:
    """Clarion's workers, which the references copy: the naive reference runs one worker of
    the same pool and `--concurrency` for each of Clarion's (all on its one queue, one provider
    call per task, by its design); the ceiling has as many sends in flight as Clarion's
    workers together, in `processes` shard processes of `threads` threads."""

    workers: tuple[WorkerShape, ...]
    processes: int
    threads: int


@dataclass
class BenchContext:
    workdir: Path
    env: dict[str, str]  # every system's processes: stores, providers, settings, counters
    redis: redis.Redis
    api_key: str
    usernames: list[str]
    sizes: Sizes
    layout: Layout
    providers: Any  # bench.provider_servers.ProviderServers
    query_count_dir: Path
    tokens_file: Path  # inbox tokens of the first `sizes.inapp_sockets` users
    redis_pid: int | None  # the embedded Redis's process, if the bench started one

    def cap(self, system: System) -> float:
        """The longest one run of `system` may take."""
        return self.sizes.naive_seconds if system.name == "naive" else self.sizes.run_seconds

    @property
    def authorization(self) -> str:
        return f"Api-Key {self.api_key}"

    def load(self, url: str, paced: Paced) -> dict[str, Any]:
        """Run bench/load.py against `url` until the paced traffic is sent."""
        spec = {"url": url, "authorization": self.authorization, **asdict(paced), "warmup_seconds": 0}
        return self.load_spec(spec)

    def load_spec(self, spec: dict[str, Any]) -> dict[str, Any]:
        child = Child(
            "load", [sys.executable, "-m", "bench.load", json.dumps(spec)], self.env, self.workdir, talks=True
        )
        child.start()
        try:
            return child.receive(timeout=spec["seconds"] + spec.get("warmup_seconds", 0) + 120)
        finally:
            child.stop()


def clarion_commands(port: int) -> dict[str, list[str]]:
    """`make run`'s processes, as scripts/run.py defines them."""
    return run_commands(str(port))


def _option(command: list[str], *names: str) -> str | None:
    for index, word in enumerate(command):
        for name in names:
            if word == name and index + 1 < len(command):
                return command[index + 1]
            if word.startswith(f"{name}="):
                return word.split("=", 1)[1]
    return None


def clarion_layout(threads_per_process: int | None = None) -> Layout:
    """Read from Clarion's worker commands and settings. Every worker process keeps up to
    CLARION_SEND_CONCURRENCY provider calls in flight on its send pool (delivery/send_pool.py,
    shared by a thread pool's tasks): a prefork worker has `--concurrency` such processes, a
    thread or green pool one."""
    from django.conf import settings

    workers = []
    for name, command in clarion_commands(0).items():
        if "worker" in command:
            count = int(_option(command, "--concurrency", "-c") or os.cpu_count() or 1)
            workers.append(WorkerShape(name, _option(command, "--pool", "-P") or "prefork", count))
    processes = sum(worker.concurrency if worker.pool in ("prefork", "solo") else 1 for worker in workers)
    return Layout(
        workers=tuple(workers),
        processes=max(processes, 1),
        threads=threads_per_process or settings.CLARION_SEND_CONCURRENCY,
    )


def posts_send(url: str, authorization: str, posts: list[Post]) -> list[Ack]:
    local = threading.local()

    def one(post: Post) -> Ack:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        started = time.time()
        body = {"category": post.category, "recipients": post.recipients, "data": {"n": 0, "sent_at": started}}
        try:
            response = local.session.post(url, json=body, headers={"Authorization": authorization}, timeout=600)
        except requests.RequestException as error:
            return Ack(started, time.time(), 0, {"error": str(error)})
        answer = response.json() if response.headers.get("Content-Type", "").startswith("application/json") else None
        return Ack(started, time.time(), response.status_code, answer)

    with ThreadPoolExecutor(POST_CONCURRENCY) as pool:
        return list(pool.map(one, posts))


class System:
    name = ""
    queues: tuple[str, ...] = ()
    max_recipients: int | None = None  # per request; None: no limit
    settings_module = "bench.settings"

    def __init__(self, ctx: BenchContext) -> None:
        self.ctx = ctx
        self.port = free_port()
        self.children: list[Child] = []
        self.web: Child | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def websocket_address(self) -> str:
        return f"{HOST}:{self.port}"

    def accept_url(self) -> str:
        raise NotImplementedError

    def _spawn(
        self, name: str, command: list[str], role: str, talks: bool = False, env: dict[str, str] | None = None
    ) -> Child:
        env = {**self.ctx.env, "DJANGO_SETTINGS_MODULE": self.settings_module, **(env or {})}
        child = Child(f"{self.name}-{name}", command, env, self.ctx.workdir, talks=talks, role=role).start()
        self.children.append(child)
        return child

    def _spawn_web(self) -> None:
        self.web = self._spawn("web", clarion_commands(self.port)["web"], role="web")

    def _web_answers(self) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{self.base_url}/", timeout=2)
                return
            except requests.ConnectionError:
                if not self.web.running or time.monotonic() > deadline:
                    raise RuntimeError(f"{self.web.name} did not answer:\n{self.web.log_tail()}") from None
                time.sleep(0.1)

    def web_restart(self, warm: bool = True) -> None:
        """A new web server, warmed up like the first one, so that the next scenario does not
        measure its processes' first requests (imports, connections, statements prepared)."""
        self.children.remove(self.web)
        self.web.stop()
        self._spawn_web()
        self._web_answers()
        if warm:
            self.warm_up()

    def _cut_off(self, sending: Sending) -> None:
        """Stop traffic still being sent: a request the web server is still accepting would go
        on feeding the queue, so the server is restarted."""
        self.web_restart(warm=False)
        sending.finished.wait(timeout=30)

    def start(self) -> None:
        raise NotImplementedError

    @contextmanager
    def background_paused(self) -> Iterator[None]:
        """Every process but the web server's frozen (SIGSTOP) for the block: workers, beat,
        the ceiling's shards. What they hold waits for them in Redis and the database."""
        pids = [
            pid
            for child in self.children
            if child is not self.web
            for pid in [child.process.pid, *descendants(child.process.pid)]
        ]
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            for pid in pids:
                os.kill(pid, signal.SIGCONT)

    def peak_rss(self) -> list[PeakRss]:
        return [peak for child in self.children for peak in child.peak_rss()]

    def stop(self) -> None:
        # All told at once, then waited for: each takes a second or more to shut down.
        for child in reversed(self.children):
            child.terminate()
        for child in reversed(self.children):
            child.wait_stopped()
        self.children = []

    def send(self, posts: list[Post], paced: Paced | None = None, paced_after: float = 0.0, **options: Any) -> Sending:
        """Bulk posts, then (once they are answered, or after `paced_after` seconds) the paced
        traffic from a load process of its own."""
        sending = Sending()

        def bulk() -> None:
            sending.acks.extend(posts_send(self.accept_url(), self.ctx.authorization, posts))
            sending.acked.set()

        def traffic() -> None:
            posting = threading.Thread(target=bulk, daemon=True)
            posting.start()
            if paced is not None:
                sending.acked.wait(paced_after)
                sending.paced_started = time.time()
                sending.paced = self.ctx.load(self.accept_url(), paced)
            posting.join()
            sending.finished.set()

        threading.Thread(target=traffic, daemon=True).start()
        return sending

    def settle(self, sending: Sending | None = None) -> None:
        """Back to idle and empty: stop what is still being sent, wait for what workers hold,
        empty the tables."""
        if sending is not None and not sending.finished.wait(timeout=5):
            self._cut_off(sending)
        queues = list(self.queues)
        if queues:
            queues_purge(self.ctx.redis, queues)
            deadline = time.monotonic() + SETTLE_SECONDS
            while tasks_pending(self.ctx.redis, queues) and time.monotonic() < deadline:
                time.sleep(0.2)
            unacked_forget(self.ctx.redis)
        tables_reset()
        self.ctx.providers.reset()

    def warm_up(self) -> None:
        """One notification on every channel, delivered: the workers consume and every
        provider client has connected (and, for FCM, has its access token)."""
        from bench.measure import deliveries_final
        from bench.seed import CHANNEL_CATEGORIES

        posts = [Post(category, self.ctx.usernames[:1]) for category in CHANNEL_CATEGORIES]
        sending = self.send(posts)
        final = deliveries_final(list(CHANNEL_CATEGORIES), len(posts), deadline=time.time() + 120)
        if final.count < len(posts):
            logs = "\n".join(f"--- {child.name}\n{child.log_tail(1500)}" for child in self.children)
            raise RuntimeError(f"{self.name} did not deliver its warm-up notifications:\n{logs}")
        self.settle(sending)


class ClarionSystem(System):
    name = "clarion"

    def __init__(self, ctx: BenchContext) -> None:
        from config.celery import ALL_QUEUES
        from notifications.serializers import MAX_RECIPIENTS

        super().__init__(ctx)
        self.queues = tuple(ALL_QUEUES)
        self.max_recipients = MAX_RECIPIENTS

    def accept_url(self) -> str:
        return f"{self.base_url}/api/v1/notifications"

    def start(self) -> None:
        for name, command in clarion_commands(self.port).items():
            if name == "web":
                self._spawn_web()
            else:
                self._spawn(name, command, role="worker" if "worker" in command else name)
        self._web_answers()
        self.warm_up()


class NaiveSystem(System):
    name = "naive"
    queues = ("naive",)
    settings_module = "bench.reference_settings"

    def accept_url(self) -> str:
        return f"{self.base_url}/naive/notifications"

    def start(self) -> None:
        self._spawn_web()
        for worker in self.ctx.layout.workers:
            command = [*BACKGROUND_PRIORITY, sys.executable, "-m", "celery", "-A", "bench.naive_pipeline", "worker"]
            command += ["--loglevel", "INFO"]
            command += ["--pool", worker.pool, "--concurrency", str(worker.concurrency), "--queues", "naive"]
            command += ["--hostname", f"naive-{worker.name}-{self.port}@%h"]
            self._spawn(worker.name, command, role="worker")
        self._web_answers()
        self.warm_up()


class CeilingSystem(System):
    name = "ceiling"
    settings_module = "bench.reference_settings"

    def __init__(self, ctx: BenchContext) -> None:
        super().__init__(ctx)
        self.shards: list[Child] = []

    def accept_url(self) -> str:
        return f"{self.base_url}/ceiling/notifications"

    def start(self) -> None:
        self._spawn_web()
        shard_command = [*BACKGROUND_PRIORITY, sys.executable, "-m", "bench.ceiling"]
        # A database connection for each send thread (the in-app adapter writes), the main
        # loop and the pacer: with the default pool of 16, one of 16 threads waited for a
        # connection, timed out and took its send with it.
        pool = {"DATABASE_POOL_MAX_SIZE": str(self.ctx.layout.threads + 2)}
        self.shards = [
            self._spawn(f"shard-{k}", shard_command, role="worker", talks=True, env=pool)
            for k in range(self.ctx.layout.processes)
        ]
        self._web_answers()
        for shard in self.shards:
            shard.receive(timeout=120)
        self.warm_up()

    def _cut_off(self, sending: Sending) -> None:
        """The shards stop by themselves at the job's deadline."""
        sending.finished.wait(timeout=180)

    def send(
        self,
        posts: list[Post],
        paced: Paced | None = None,
        paced_after: float = 0.0,
        seconds: float = 120.0,
        stop_when_paced_done: bool = False,
    ) -> Sending:
        """Bulk posts to the ceiling's accept endpoint, then the shards deliver them and send
        the paced traffic themselves, for at most `seconds`."""
        sending = Sending()

        def traffic() -> None:
            sending.acks.extend(posts_send(self.accept_url(), self.ctx.authorization, posts))
            sending.acked.set()
            job = {
                "shards": len(self.shards),
                "threads": self.ctx.layout.threads,
                "deadline": time.time() + seconds,
                "requests": [ack.body["request"] for ack in sending.acks if ack.body and "request" in ack.body],
                "paced": asdict(paced) if paced else None,
                "until_paced_done": stop_when_paced_done,
            }
            sending.paced_started = time.time()
            for k, shard in enumerate(self.shards):
                shard.send(json.dumps({**job, "shard": k}))
            results = [shard.receive(timeout=seconds + 120) for shard in self.shards]
            sending.paced = {"ok": sum(result["paced"] for result in results), "shards": results}
            sending.finished.set()

        threading.Thread(target=traffic, daemon=True).start()
        return sending


SYSTEMS: dict[str, type[System]] = {"clarion": ClarionSystem, "naive": NaiveSystem, "ceiling": CeilingSystem}
