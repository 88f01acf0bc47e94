"""Where the CPU went during a run: the average number of cores each process (with the
processes it forked) kept busy, and the whole machine's. On a quiet machine this says what
bounds a number: a process near one core is CPU-bound; a system far from its cores' total,
yet slow, waits on something else (a provider's latency, a lock)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from bench.children import descendants

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
PROBE_ITERATIONS = 2_000_000
PROBE_REPEATS = 3


def machine_probe_seconds() -> float:
    """Seconds a fixed piece of pure-Python work takes now, the best of a few tries. Machines
    of the same kind differ, and one machine differs over an hour (a neighbour on the host's
    cores): the same commit's figures moved by a fifth with it. Beside the results, it tells a
    slower machine from a slower system."""

    def once() -> float:
        started = time.perf_counter()
        total = 0
        for value in range(PROBE_ITERATIONS):
            total += value * value % 7
        return time.perf_counter() - started

    return round(min(once() for _ in range(PROBE_REPEATS)), 3)


def _process_ticks(pid: int) -> int:
    """The process's CPU time and that of its children that have exited (once reaped, a
    child's time is added to its parent's): a process that comes and goes between two readings,
    a PostgreSQL backend or a prefork child replaced, still counts."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0  # gone
    return sum(int(ticks) for ticks in fields[11:15])  # utime, stime, cutime, cstime


def tree_ticks(pid: int) -> int:
    return sum(_process_ticks(each) for each in [pid, *descendants(pid)])


def postgres_ticks() -> int:
    """Every PostgreSQL server process on the machine (the bench's database is one of theirs)."""
    total = 0
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == "postgres":
                total += _process_ticks(int(comm.parent.name))
        except (OSError, ValueError):
            continue
    return total


def machine_busy_ticks() -> int:
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields[:8]) - idle


class CpuMeter:
    """Cores used between `start()` and `stop()` by each named source of ticks."""

    def __init__(self, sources: dict[str, Callable[[], int]]) -> None:
        self.sources = {**sources, "postgres": postgres_ticks, "machine": machine_busy_ticks}
        self._before: dict[str, int] = {}
        self._started = 0.0

    def start(self) -> CpuMeter:
        self._started = time.monotonic()
        self._before = {name: ticks() for name, ticks in self.sources.items()}
        return self

    def stop(self) -> dict[str, float]:
        seconds = time.monotonic() - self._started
        # A process restarted meanwhile (the web server, after an overload) loses its ticks: never below 0.
        used = {name: max(0, ticks() - self._before.get(name, 0)) for name, ticks in self.sources.items()}
        return {name: round(ticks / TICKS_PER_SECOND / seconds, 2) for name, ticks in used.items() if seconds}
