"""The scenarios. Each runs against one system (bench/systems.py), measures, and leaves the
system idle and its tables empty for the next. Every wait is bounded: a run that has not
finished by its cap is measured as far as it got and marked incomplete."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

from bench.children import Child
from bench.measure import (
    backlog_now,
    cost_counters,
    deliveries_final,
    latencies_to_provider_ms,
    notifications_accepted,
    percentile_with_missing,
)
from bench.seed import CHANNEL_CATEGORIES
from bench.systems import BenchContext, Paced, Post, System

# Bulk traffic goes out in requests of at most this many recipients (Clarion's API limit),
# whichever system takes it, except the fan-out, which is one request where a system allows.
BULK_REQUEST_RECIPIENTS = 1000


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def _recipients(ctx: BenchContext, count: int) -> list[str]:
    """`count` recipients, going round the bench's users as often as needed."""
    users = ctx.usernames
    return [users[i % len(users)] for i in range(count)]


def _ok(acks: list[Any]) -> int:
    return sum(200 <= ack.status < 300 for ack in acks)


def _rate(count: int, seconds: float | None) -> float | None:
    return round(count / seconds, 1) if seconds else None


# The accept figures measured again with the workers paused, under these keys' names prefixed.
API_ALONE_KEYS = ("achieved_rate", "p50_ms", "p99_ms", "errors")


def accept(ctx: BenchContext, system: System, memo: dict) -> dict[str, Any]:
    """The offered load twice: with the workers planning and delivering what it brings on the
    same cores, and with every process but the web server paused, which is the API's own
    figure when the workers have cores of their own."""
    sizes = ctx.sizes
    spec = {
        "url": system.accept_url(),
        "authorization": ctx.authorization,
        "category": "bench_email",
        "recipients": ctx.usernames[:BULK_REQUEST_RECIPIENTS],
        "rate": sizes.accept_rate,
        "seconds": sizes.accept_seconds,
        "warmup_seconds": sizes.accept_warmup_seconds,
    }
    figures = ctx.load_spec(spec)
    with system.background_paused():
        alone = ctx.load_spec(spec)
    return {**figures, **{f"api_alone_{key}": alone[key] for key in API_ALONE_KEYS}}


# Load offered whatever the server does may leave it holding requests and connections: after
# these scenarios (and their CPU reading, which a new web process would lose) the web server
# is restarted, so the next scenario starts with a fresh one.
WEB_RESTARTED_AFTER = {"accept"}


def fanout(ctx: BenchContext, system: System, memo: dict) -> dict[str, Any]:
    recipients = _recipients(ctx, ctx.sizes.fanout_recipients)
    posts = [Post("bench_email", chunk) for chunk in _chunks(recipients, system.max_recipients or len(recipients))]
    cap = ctx.cap(system)
    sending = system.send(posts, seconds=cap)
    acked = sending.acked.wait(cap)
    final = deliveries_final(["bench_email"], len(recipients), deadline=sending.t0 + cap)
    system.settle(sending)
    accepted = _ok(sending.acks)
    complete = final.count >= len(recipients)
    return {
        "cap_seconds": cap,
        "recipients": len(recipients),
        "requests": len(posts),
        "accepted_requests": accepted,
        "ack_seconds": round(max(a.finished for a in sending.acks) - sending.t0, 3)
        if acked and accepted == len(posts)
        else None,
        "final": final.count,
        "failed": final.failed,
        "all_final_seconds": round(final.last - sending.t0, 2) if complete else None,
        "complete": complete,
    }


def _throughput_run(ctx: BenchContext, system: System, latency: float) -> dict[str, Any]:
    sizes = ctx.sizes
    total = sizes.naive_throughput_notifications if system.name == "naive" else sizes.throughput_notifications
    per_channel = total // len(CHANNEL_CATEGORIES)
    recipients = _recipients(ctx, per_channel)
    # Channels interleaved, so that all four are under way together.
    posts = [
        Post(category, chunk)
        for chunk in _chunks(recipients, BULK_REQUEST_RECIPIENTS)
        for category in CHANNEL_CATEGORIES
    ]
    expected = per_channel * len(CHANNEL_CATEGORIES)
    ctx.providers.latency(latency)
    before = cost_counters(ctx.query_count_dir, ctx.redis)
    sending = system.send(posts, seconds=ctx.cap(system))
    final = deliveries_final(list(CHANNEL_CATEGORIES), expected, deadline=sending.t0 + ctx.cap(system))
    after = cost_counters(ctx.query_count_dir, ctx.redis)
    ctx.providers.latency(0)
    system.settle(sending)
    seconds = round(final.last - sending.t0, 2) if final.last else None
    queries = after.queries - before.queries
    commands = after.redis_commands - before.redis_commands - 1  # less the INFO that read them
    return {
        "cap_seconds": ctx.cap(system),
        "provider_latency_ms": round(latency * 1000),
        "notifications": expected,
        "deliveries": final.count,
        "failed": final.failed,
        "seconds": seconds,
        "rate": _rate(final.count, seconds),
        "complete": final.count >= expected,
        "sql_queries": queries,
        "redis_commands": commands,
        "sql_per_delivery": round(queries / final.count, 2) if final.count else None,
        "redis_per_delivery": round(commands / final.count, 2) if final.count else None,
    }


def _zero_latency_run(ctx: BenchContext, system: System, memo: dict) -> dict[str, Any]:
    """The throughput run at zero provider latency, done once per system and invocation."""
    key = ("throughput", system.name)
    if key not in memo:
        memo[key] = _throughput_run(ctx, system, 0.0)
    return memo[key]


def throughput(ctx: BenchContext, system: System, memo: dict) -> dict[str, Any]:
    return _zero_latency_run(ctx, system, memo)


def latency(ctx: BenchContext, system: System, memo: dict) -> dict[str, Any]:
    zero = _zero_latency_run(ctx, system, memo)
    hidden = _throughput_run(ctx, system, ctx.sizes.hidden_latency_seconds)
    ratio = round(hidden["rate"] / zero["rate"], 3) if hidden["rate"] and zero["rate"] else None
    return {**hidden, "zero_latency_rate": zero["rate"], "ratio_to_zero_latency": ratio}


def priority(ctx: BenchContext, system: System, memo: dict) -> dict[str, Any]:
    sizes = ctx.sizes
    marketing = _recipients(ctx, sizes.priority_backlog)
    posts = [Post("bench_marketing", chunk) for chunk in _chunks(marketing, BULK_REQUEST_RECIPIENTS)]
    paced = Paced(
        "bench_security", ctx.usernames[:BULK_REQUEST_RECIPIENTS], sizes.priority_rate, sizes.priority_seconds
    )
    cap = ctx.cap(system)
    sending = system.send(
        posts, paced=paced, paced_after=sizes.priority_backlog_seconds, seconds=cap, stop_when_paced_done=True
    )
    backlog: list[int] = []  # marketing notifications waiting, sampled while security traffic runs
    deadline = sending.t0 + cap
    while True:
        if sending.paced_started is not None:
            backlog.append(backlog_now("bench_marketing"))
        if sending.paced is not None or time.time() > deadline:
            break
        time.sleep(0.25)
    # Counted in the database: a sender cut short by the cap has no report.
    sent = notifications_accepted("bench_security")
    security = deliveries_final(["bench_security"], sent, deadline=time.time() + sizes.straggler_seconds)
    latencies = latencies_to_provider_ms("bench_security")
    system.settle(sending)
    missing = sent - len(latencies)
    return {
        "backlog": sizes.priority_backlog,
        "backlog_at_start": backlog[0] if backlog else None,
        "backlog_at_end": backlog[-1] if backlog else None,
        "sent": sent,
        "delivered": len(latencies),
        "missing": missing,
        "failed": security.failed,
        "p50_ms": percentile_with_missing(latencies, missing, 0.50),
        "p99_ms": percentile_with_missing(latencies, missing, 0.99),
        "max_ms": round(max(latencies), 1) if latencies and missing <= 0 else None,
    }


def inapp(ctx: BenchContext, system: System, memo: dict) -> dict[str, Any]:
    sizes = ctx.sizes
    spec = {"address": system.websocket_address, "tokens_file": str(ctx.tokens_file), "connect_concurrency": 100}
    clients = Child(
        f"{system.name}-inbox-clients",
        [sys.executable, "-m", "bench.inbox_clients", json.dumps(spec)],
        ctx.env,
        ctx.workdir,
        talks=True,
    ).start()
    try:
        connected = clients.receive(timeout=180)
        paced = Paced("bench_in_app", ctx.usernames[: sizes.inapp_sockets], sizes.inapp_rate, sizes.inapp_seconds)
        sending = system.send([], paced=paced, seconds=ctx.cap(system))
        sending.finished.wait(ctx.cap(system))
        sent = notifications_accepted("bench_in_app")
        final = deliveries_final(["bench_in_app"], sent, deadline=time.time() + sizes.straggler_seconds)
        time.sleep(0.5)  # the last pushes cross the channel layer
        clients.send("stop")
        receipts = clients.receive(timeout=60)
    finally:
        clients.stop()
    system.settle(sending)
    latencies = receipts.pop("latencies_ms")
    missing = sent - len(latencies)
    return {
        **connected,
        **receipts,
        "sent": sent,
        "delivered": final.count,  # stored and pushed, as the database says
        "received": len(latencies),
        "missing": missing,
        "p50_ms": percentile_with_missing(latencies, missing, 0.50),
        "p99_ms": percentile_with_missing(latencies, missing, 0.99),
        "max_ms": round(max(latencies), 1) if latencies and missing <= 0 else None,
    }


def cost(ctx: BenchContext, system: System, memo: dict) -> dict[str, Any]:
    """Per delivery, from the zero-latency throughput run; peak memory is added when the
    system stops (bench/harness.py)."""
    run = _zero_latency_run(ctx, system, memo)
    keys = ("deliveries", "sql_queries", "redis_commands", "sql_per_delivery", "redis_per_delivery")
    return {key: run[key] for key in keys}


SCENARIOS: dict[str, Callable[[BenchContext, System, dict], dict[str, Any]]] = {
    "accept": accept,
    "fanout": fanout,
    "throughput": throughput,
    "latency": latency,
    "priority": priority,
    "inapp": inapp,
    "cost": cost,
}
