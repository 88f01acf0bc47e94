"""Several runs of a scenario reported as one (bench/repeats.py, `python -m bench --repeat N`)."""

from __future__ import annotations

from bench.repeats import run_values, runs_merge
from bench.report import table_notes, table_rows


def test_numbers_are_the_median_run_and_everything_else_the_first_runs():
    runs = [
        {"p99_ms": 80.4, "errors": 0, "complete": True, "cpu_cores": {"web": 0.5}, "first_errors": ["a"]},
        {"p99_ms": 22.2, "errors": 2, "complete": True, "cpu_cores": {"web": 0.7}, "first_errors": ["b"]},
        {"p99_ms": 24.0, "errors": 0, "complete": True, "cpu_cores": {"web": 0.6}, "first_errors": []},
    ]
    merged = runs_merge(runs)
    assert merged["p99_ms"] == 24.0
    assert merged["errors"] == 0
    assert merged["cpu_cores"] == {"web": 0.6}
    assert merged["first_errors"] == ["a"]
    assert merged["runs"] == runs


def test_an_even_count_gives_a_value_one_run_measured():
    assert runs_merge([{"p99_ms": 10.0}, {"p99_ms": 30.0}])["p99_ms"] == 10.0


def test_a_figure_one_run_lacks_and_a_flag_one_run_lacks_stay_missing():
    merged = runs_merge([{"p99_ms": 20.0, "complete": True}, {"p99_ms": None, "complete": False}])
    assert merged["p99_ms"] is None
    assert merged["complete"] is False


def test_failed_runs_are_kept_but_not_counted():
    failed = {"error": "TimeoutError: no answer"}
    merged = runs_merge([failed, {"rate": 600}, {"rate": 640}, {"rate": 700}])
    assert merged["rate"] == 640
    assert "error" not in merged
    assert run_values(merged, "rate") == ["error", 600, 640, 700]
    assert runs_merge([failed, failed])["error"] == failed["error"]


def test_the_target_is_judged_on_the_median_and_every_run_is_noted():
    results = {"accept": {"clarion": runs_merge([{"p99_ms": p99, "errors": 0} for p99 in (80.4, 22.2, 24.0)])}}
    (p99_row,) = [row for row in table_rows(results) if row["key"] == "p99_ms"]
    assert p99_row["clarion"] == 24.0
    assert p99_row["met"] is True
    assert "clarion accept p99 ms, run by run: 80.4, 22.2, 24 (the table shows the median)" in table_notes(results)


def test_a_single_run_and_a_figure_no_run_measured_have_no_run_by_run_note():
    assert run_values({"p99_ms": 20.0}, "p99_ms") is None
    merged = {**runs_merge([{"deliveries": 10}, {"deliveries": 12}]), "worker_peak_rss_mb": 135}
    assert run_values(merged, "worker_peak_rss_mb") is None
    assert table_notes({"accept": {"clarion": {"p99_ms": 20.0, "errors": 0}}}) == []
