"""The bench's table and bench/results.json: every metric for Clarion and both references,
Clarion's ratio to each, and whether Clarion meets the issue's targets."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.repeats import run_values

SYSTEM_ORDER = ("clarion", "naive", "ceiling")
Results = dict[str, dict[str, dict[str, Any]]]  # scenario → system → figures


@dataclass(frozen=True)
class Metric:
    scenario: str
    label: str
    key: str


METRICS = (
    Metric("accept", "achieved req/s", "achieved_rate"),
    Metric("accept", "p50 ms", "p50_ms"),
    Metric("accept", "p99 ms", "p99_ms"),
    Metric("accept", "errors", "errors"),
    Metric("accept", "workers paused: req/s", "api_alone_achieved_rate"),
    Metric("accept", "workers paused: p50 ms", "api_alone_p50_ms"),
    Metric("accept", "workers paused: p99 ms", "api_alone_p99_ms"),
    Metric("accept", "workers paused: errors", "api_alone_errors"),
    Metric("fanout", "time to the 202, s", "ack_seconds"),
    Metric("fanout", "all final, s", "all_final_seconds"),
    Metric("throughput", "deliveries/s", "rate"),
    Metric("latency", "deliveries/s, slow providers", "rate"),
    Metric("latency", "share of zero-latency rate", "ratio_to_zero_latency"),
    Metric("priority", "security p50 ms", "p50_ms"),
    Metric("priority", "security p99 ms", "p99_ms"),
    Metric("priority", "backlog at start", "backlog_at_start"),
    Metric("inapp", "p50 ms", "p50_ms"),
    Metric("inapp", "p99 ms", "p99_ms"),
    Metric("inapp", "connection errors", "connection_errors"),
    Metric("inapp", "missing", "missing"),
    Metric("cost", "SQL per delivery", "sql_per_delivery"),
    Metric("cost", "Redis commands per delivery", "redis_per_delivery"),
    Metric("cost", "worker peak RSS MB", "worker_peak_rss_mb"),
    Metric("cost", "web peak RSS MB", "web_peak_rss_mb"),
)


def _value(results: Results, scenario: str, system: str, key: str) -> Any:
    return results.get(scenario, {}).get(system, {}).get(key)


def _below(value: Any, limit: float) -> bool:
    return isinstance(value, int | float) and value < limit


@dataclass(frozen=True)
class Target:
    scenario: str
    key: str
    text: str
    check: Callable[[Results], bool]


def _throughput_met(results: Results) -> bool:
    clarion, naive, ceiling = (_value(results, "throughput", name, "rate") for name in SYSTEM_ORDER)
    return bool(clarion and naive and ceiling and clarion >= 10 * naive and clarion >= 0.6 * ceiling)


TARGETS = (
    Target(
        "accept",
        "p99_ms",
        "p99 < 25 ms, 0 errors",
        lambda r: (
            _below(_value(r, "accept", "clarion", "p99_ms"), 25) and _value(r, "accept", "clarion", "errors") == 0
        ),
    ),
    Target("fanout", "ack_seconds", "< 1 s", lambda r: _below(_value(r, "fanout", "clarion", "ack_seconds"), 1)),
    Target(
        "fanout",
        "all_final_seconds",
        "< 30 s",
        lambda r: _below(_value(r, "fanout", "clarion", "all_final_seconds"), 30),
    ),
    Target("throughput", "rate", "≥ 10× naive, ≥ 60% of ceiling", _throughput_met),
    Target(
        "latency",
        "ratio_to_zero_latency",
        "≥ 0.5",
        lambda r: (_value(r, "latency", "clarion", "ratio_to_zero_latency") or 0) >= 0.5,
    ),
    Target("priority", "p99_ms", "< 1000 ms", lambda r: _below(_value(r, "priority", "clarion", "p99_ms"), 1000)),
    Target(
        "inapp",
        "p99_ms",
        "< 200 ms, 0 connection errors",
        lambda r: (
            _below(_value(r, "inapp", "clarion", "p99_ms"), 200)
            and _value(r, "inapp", "clarion", "connection_errors") == 0
        ),
    ),
    Target(
        "cost",
        "worker_peak_rss_mb",
        "< 200 MB",
        lambda r: _below(_value(r, "cost", "clarion", "worker_peak_rss_mb"), 200),
    ),
)


def _ratio(numerator: Any, denominator: Any) -> float | None:
    if not isinstance(numerator, int | float) or not isinstance(denominator, int | float) or not denominator:
        return None
    return round(numerator / denominator, 2)


def table_rows(results: Results) -> list[dict[str, Any]]:
    targets = {(target.scenario, target.key): target for target in TARGETS}
    rows = []
    for metric in METRICS:
        if metric.scenario not in results:
            continue
        values = {name: _value(results, metric.scenario, name, metric.key) for name in SYSTEM_ORDER}
        target = targets.get((metric.scenario, metric.key))
        ran = "clarion" in results[metric.scenario] and "error" not in results[metric.scenario]["clarion"]
        rows.append(
            {
                "scenario": metric.scenario,
                "metric": metric.label,
                "key": metric.key,
                **values,
                "clarion_per_naive": _ratio(values["clarion"], values["naive"]),
                "clarion_per_ceiling": _ratio(values["clarion"], values["ceiling"]),
                "target": target.text if target else None,
                "met": target.check(results) if target and ran else None,
                "shown": {
                    name: shown
                    for name in SYSTEM_ORDER
                    if (shown := _shown(metric, results[metric.scenario].get(name, {}))) is not None
                },
            }
        )
    return rows


def _shown(metric: Metric, figures: dict[str, Any]) -> str | None:
    """What the table shows where a figure is missing because the run hit its cap or messages
    never arrived; None to show the figure itself."""
    if figures.get(metric.key) is not None or not figures or "error" in figures:
        return "error" if "error" in figures else None
    if metric.key.endswith("_ms") and figures.get("missing"):
        return f"missing {figures['missing']}/{figures['sent']}"
    if metric.key.endswith("_seconds") and "cap_seconds" in figures:
        return f"> {figures['cap_seconds']:g}"
    return None


def table_notes(results: Results) -> list[str]:
    """Runs that stopped at their cap before every delivery was final, and, where scenarios
    ran more than once, every run's value of each target's figure."""
    notes = []
    labels = {(metric.scenario, metric.key): metric.label for metric in METRICS}
    for target in TARGETS:
        values = run_values(results.get(target.scenario, {}).get("clarion", {}), target.key)
        if values:
            label = labels[(target.scenario, target.key)]
            shown = ", ".join(_cell(value) for value in values)
            notes.append(f"clarion {target.scenario} {label}, run by run: {shown} (the table shows the median)")
    for scenario, by_system in results.items():
        for system, merged in by_system.items():
            for figures in merged.get("runs", [merged]):
                if figures.get("complete") is not False:
                    continue
                done = figures.get("final", figures.get("deliveries"))
                expected = figures.get("recipients", figures.get("notifications"))
                notes.append(
                    f"{system} {scenario}: {done:,} of {expected:,} deliveries final when its "
                    f"{figures['cap_seconds']:g} s cap ran out"
                )
    return notes


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        if math.isinf(value):
            return "∞"
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table_text(rows: list[dict[str, Any]]) -> str:
    headings = ["scenario", "metric", "clarion", "naive", "ceiling", "÷naive", "÷ceiling", "target", "met"]
    keys = [
        "scenario",
        "metric",
        "clarion",
        "naive",
        "ceiling",
        "clarion_per_naive",
        "clarion_per_ceiling",
        "target",
        "met",
    ]
    cells = [headings] + [[row["shown"].get(key) or _cell(row[key]) for key in keys] for row in rows]
    widths = [max(len(line[column]) for line in cells) for column in range(len(headings))]
    lines = []
    for number, line in enumerate(cells):
        text = "  ".join(
            cell.ljust(width) if column < 2 or column >= 7 else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(line, widths, strict=True))
        )
        lines.append(text.rstrip())
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def report_write(path: Path, meta: dict[str, Any], results: Results, rows: list[dict[str, Any]]) -> None:
    targets = [
        {
            "scenario": row["scenario"],
            "metric": row["metric"],
            "target": row["target"],
            "clarion": row["clarion"],
            "met": row["met"],
        }
        for row in rows
        if row["target"]
    ]
    document = {"meta": meta, "results": results, "table": rows, "targets": targets}
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
