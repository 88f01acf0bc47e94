"""`make bench`: set up the stores and provider servers, run every chosen scenario against
Clarion and both references, one system at a time, and report.

Each system's processes start once and serve all its scenarios; between scenarios its queues
are purged and the scenario tables emptied. Peak memory is read from each process before it
stops.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from argparse import Namespace
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import django
import redis

from bench.children import PeakRss
from bench.cpu import CpuMeter, machine_probe_seconds, tree_ticks
from bench.provider_servers import ProviderServers
from bench.query_count import COUNT_DIR_ENV
from bench.repeats import runs_merge
from bench.sizes import FULL, QUICK
from bench.stores import stores_open
from bench.systems import SYSTEMS, BenchContext, System, clarion_layout


def _peak_summary(peaks: list[PeakRss]) -> dict[str, Any]:
    """The largest process of each role: workers (the ceiling's shards are its workers), web, beat."""

    def largest(role: str) -> float | None:
        sizes = [peak.megabytes for peak in peaks if peak.role == role]
        return max(sizes) if sizes else None

    return {
        "worker_peak_rss_mb": largest("worker"),
        "web_peak_rss_mb": largest("web"),
        "beat_peak_rss_mb": largest("beat"),
        "peak_rss": [asdict(peak) for peak in peaks],
    }


def _cpu_meter(ctx: BenchContext, system: System) -> CpuMeter:
    """Cores used by each of the system's processes, the provider servers, Redis and the
    bench itself (its load and websocket processes count only in the machine's total)."""

    def ticks_of(name: str) -> Callable[[], int]:
        return lambda: sum(tree_ticks(child.process.pid) for child in system.children if child.name == name)

    sources = {child.name: ticks_of(child.name) for child in system.children}
    sources["providers"] = lambda: sum(tree_ticks(child.process.pid) for child in ctx.providers.children)
    if ctx.redis_pid:
        sources["redis"] = lambda: tree_ticks(ctx.redis_pid)
    named = dict(sources)
    # Everything else the bench runs: itself, and its load and websocket client processes.
    sources["bench"] = lambda: tree_ticks(os.getpid()) - sum(ticks() for ticks in named.values())
    return CpuMeter(sources)


def _scenario_run(ctx: BenchContext, system: System, scenario: str, memo: dict) -> dict[str, Any]:
    from bench.scenarios import SCENARIOS

    meter = _cpu_meter(ctx, system).start()
    try:
        figures = SCENARIOS[scenario](ctx, system, memo)
    except Exception as error:  # one failed scenario must not lose the others' figures
        traceback.print_exc()
        return {"error": f"{type(error).__name__}: {error}"}
    figures["cpu_cores"] = meter.stop()
    return figures


def _system_run(ctx: BenchContext, name: str, scenarios: list[str], results: dict, memos: list[dict]) -> None:
    """Each scenario once per memo: run i of every scenario shares memo i (the latency
    scenario's ratio is to the zero-latency run of the same round)."""
    from bench.scenarios import WEB_RESTARTED_AFTER

    system = SYSTEMS[name](ctx)
    started = time.monotonic()
    try:
        system.start()
        print(f"[bench] {name} started: {time.monotonic() - started:.0f}s", file=sys.stderr, flush=True)
        for scenario in scenarios:
            runs = []
            for memo in memos:
                started = time.monotonic()
                figures = _scenario_run(ctx, system, scenario, memo)
                runs.append(figures)
                if scenario in WEB_RESTARTED_AFTER and "error" not in figures:
                    system.web_restart()
                if scenario in WEB_RESTARTED_AFTER or "error" in figures:
                    system.settle()
                seconds = time.monotonic() - started
                print(f"[bench] {name} {scenario}: {seconds:.0f}s", file=sys.stderr, flush=True)
            results[scenario][name] = runs[0] if len(runs) == 1 else runs_merge(runs)
    except Exception as error:
        traceback.print_exc()
        for scenario in scenarios:
            results[scenario].setdefault(name, {"error": f"{type(error).__name__}: {error}"})
    finally:
        peaks = system.peak_rss()
        system.stop()
    if "cost" in results and "error" not in results["cost"].get(name, {"error": ""}):
        results["cost"][name].update(_peak_summary(peaks))


def run(options: Namespace) -> int:
    sizes = QUICK if options.quick else FULL
    started = time.time()
    workdir = Path(tempfile.mkdtemp(prefix="clarion-bench-"))
    failed = True
    try:
        with ExitStack() as stack:
            stores = stores_open(stack, workdir, options.database, options.redis)
            query_count_dir = workdir / "query-counts"
            query_count_dir.mkdir()
            os.environ.update(
                {
                    "DATABASE_URL": stores.database_url,
                    "REDIS_URL": stores.redis_url,
                    # The processes' metrics files: the bench's own, not a `make run`'s.
                    "PROMETHEUS_MULTIPROC_DIR": str(workdir / "prometheus"),
                }
            )
            os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"  # the bench's own queries go uncounted
            django.setup()
            from django.db import connections

            from bench.seed import database_seed, inbox_tokens, username

            stack.callback(connections.close_all)  # before the bench database is dropped
            redis_kind = "embedded" if stores.redis_pid else "REDIS_URL"
            print(f"[bench] {stores.database} database, {redis_kind} Redis; seeding", file=sys.stderr, flush=True)
            seeded = database_seed(sizes.users)
            print(f"[bench] seeded: {time.time() - started:.0f}s", file=sys.stderr, flush=True)
            env = {
                **os.environ,
                "PYTHONUNBUFFERED": "1",
                "DJANGO_SETTINGS_MODULE": "bench.settings",
                COUNT_DIR_ENV: str(query_count_dir),
            }
            providers = ProviderServers(env, workdir).start()
            stack.callback(providers.stop)
            env.update(providers.env)
            tokens_file = workdir / "inbox-tokens.json"
            tokens_file.write_text(json.dumps(inbox_tokens(seeded.user_ids[: sizes.inapp_sockets])))
            client = redis.Redis.from_url(stores.redis_url)
            ctx = BenchContext(
                workdir=workdir,
                env=env,
                redis=client,
                api_key=seeded.raw_api_key,
                usernames=[username(i) for i in range(sizes.users)],
                sizes=sizes,
                layout=clarion_layout(options.ceiling_threads),
                providers=providers,
                query_count_dir=query_count_dir,
                tokens_file=tokens_file,
                redis_pid=stores.redis_pid,
            )
            results: dict[str, dict[str, Any]] = {scenario: {} for scenario in options.scenarios}
            memos: list[dict] = [{} for _ in range(options.repeat)]
            load_before = os.getloadavg()
            probe_before = machine_probe_seconds()
            for name in options.systems:
                _system_run(ctx, name, options.scenarios, results, memos)
            probes = {"before": probe_before, "after": machine_probe_seconds()}
            print(f"[bench] machine probe: {probes['before']} s before, {probes['after']} s after", file=sys.stderr)
            meta = _meta(options, sizes, stores, ctx, started=started, load_before=load_before, probes=probes)
        from bench.report import report_write, table_notes, table_rows, table_text

        rows = table_rows(results)
        print(table_text(rows))
        for note in table_notes(results):
            print(f"* {note}")
        report_write(Path(options.output), meta, results, rows)
        print(f"\nwritten to {options.output}", file=sys.stderr)
        failed = any("error" in figures for by_system in results.values() for figures in by_system.values())
        return 1 if failed else 0
    finally:
        if failed or options.keep_logs:
            print(f"[bench] logs kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _meta(
    options: Namespace,
    sizes: Any,
    stores: Any,
    ctx: BenchContext,
    *,
    started: float,
    load_before: tuple,
    probes: dict[str, float],
) -> dict:
    return {
        "started": datetime.fromtimestamp(started, tz=UTC).isoformat(timespec="seconds"),
        "seconds": round(time.time() - started),
        "quick": options.quick,
        "repeat": options.repeat,
        "scenarios": options.scenarios,
        "systems": options.systems,
        "cpus": os.cpu_count(),
        "load_average_before": [round(value, 2) for value in load_before],
        "load_average_after": [round(value, 2) for value in os.getloadavg()],
        # bench/cpu.py's fixed work, timed on an idle machine before and after: smaller is faster.
        "machine_probe_seconds": probes,
        "python": platform.python_version(),
        "database": stores.database,
        "redis": "embedded" if stores.redis_pid else "REDIS_URL",
        "concurrency": {
            "workers": [asdict(worker) for worker in ctx.layout.workers],
            "ceiling_processes": ctx.layout.processes,
            "ceiling_threads": ctx.layout.threads,
        },
        "sizes": asdict(sizes),
    }
