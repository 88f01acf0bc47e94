"""`python -m bench --quick` still works end to end: it starts Clarion, the naive reference and
the ceiling, runs a cheap subset of the scenarios against each and writes results.json in the
shape the README describes. Figures are whatever this machine gives: only their presence and
shape are checked, never their size."""

from __future__ import annotations

import json

import pytest

from tests.support.quick_bench import QUICK_BENCH_KEY, REPEAT, SCENARIOS

SYSTEMS = {"clarion", "naive", "ceiling"}


def _is_figure(value: object) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


@pytest.mark.e2e
def test_quick_bench_runs_every_system_and_writes_its_results(request):
    # Started when the suite was collected (tests/conftest.py), and running since.
    completed = request.config.stash[QUICK_BENCH_KEY].result(timeout=280)

    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-5000:]
    document = json.loads(completed.output.read_text())
    assert set(document) == {"meta", "results", "table", "targets"}
    assert document["meta"]["quick"] is True
    assert document["meta"]["repeat"] == REPEAT
    assert set(document["meta"]["machine_probe_seconds"]) == {"before", "after"}
    assert set(document["results"]) == set(SCENARIOS)
    for by_system in document["results"].values():
        assert set(by_system) == SYSTEMS
        assert all("error" not in figures for figures in by_system.values())
        assert all(len(figures["runs"]) == REPEAT for figures in by_system.values())
    for figures in document["results"]["throughput"].values():
        assert _is_figure(figures["rate"]) and _is_figure(figures["sql_per_delivery"])
    # Clarion and the ceiling deliver every message of the run (the naive reference may not).
    assert all(document["results"]["throughput"][name]["complete"] for name in ("clarion", "ceiling"))
    for figures in document["results"]["accept"].values():
        assert _is_figure(figures["p99_ms"]) and _is_figure(figures["api_alone_p99_ms"])
    for figures in document["results"]["cost"].values():
        assert figures["peak_rss"], "every system reports its processes' peak memory"
    assert {row["scenario"] for row in document["table"]} == set(SCENARIOS)
    for row in document["table"]:
        assert all(_is_figure(row[name]) for name in SYSTEMS)
        assert row["met"] in (True, False, None)
    assert {target["scenario"] for target in document["targets"]} == {"accept", "throughput", "inapp", "cost"}
    assert "deliveries/s" in completed.stdout, "the table is printed"
    assert "clarion accept p99 ms, run by run: " in completed.stdout, "and each run's figure under it"
