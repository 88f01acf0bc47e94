"""How big each scenario is, and how long any run may take: the full bench and `--quick`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    users: int
    accept_rate: float  # requests offered per second
    accept_seconds: float  # measured, after the warm-up
    accept_warmup_seconds: float
    fanout_recipients: int
    throughput_notifications: int  # spread evenly over email, SMS, push and in-app
    # The naive reference's throughput batches: its chains run plan, render and send stages
    # one after another across the whole batch, so a batch too big to finish within its cap
    # would show no delivery at all. Smaller, it finishes, and its rate is its own.
    naive_throughput_notifications: int
    hidden_latency_seconds: float  # the providers' response latency in the latency-hiding run
    priority_backlog: int  # marketing notifications queued ahead of the security ones
    priority_backlog_seconds: float  # security traffic starts once the backlog is accepted, or after this
    priority_rate: float  # security notifications per second
    priority_seconds: float
    inapp_sockets: int
    inapp_rate: float  # notifications per second, one recipient each
    inapp_seconds: float
    run_seconds: float  # the longest Clarion or the ceiling may take over one run
    naive_seconds: float  # the same for the naive reference, whose rates are measured over it
    straggler_seconds: float  # how long timed messages may still arrive after their traffic ends


FULL = Sizes(
    users=10_000,
    accept_rate=300,
    accept_seconds=10,
    accept_warmup_seconds=2,
    fanout_recipients=10_000,
    throughput_notifications=20_000,
    naive_throughput_notifications=500,
    hidden_latency_seconds=0.1,
    priority_backlog=20_000,
    priority_backlog_seconds=10,
    priority_rate=5,
    priority_seconds=10,
    inapp_sockets=1000,
    inapp_rate=100,
    inapp_seconds=10,
    run_seconds=45,
    naive_seconds=30,
    straggler_seconds=10,
)

QUICK = Sizes(
    users=100,
    accept_rate=20,
    accept_seconds=1,
    accept_warmup_seconds=0.3,
    fanout_recipients=100,
    throughput_notifications=80,
    naive_throughput_notifications=20,
    hidden_latency_seconds=0.02,
    priority_backlog=100,
    priority_backlog_seconds=1,
    priority_rate=4,
    priority_seconds=0.5,
    inapp_sockets=10,
    inapp_rate=10,
    inapp_seconds=0.5,
    run_seconds=15,
    naive_seconds=8,
    straggler_seconds=3,
)
