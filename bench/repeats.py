"""A scenario run several times (`--repeat N`), reported as one: tail figures from a single
run are a lottery on a shared two-core machine (the same code gave accept p99s of 22, 24 and
80 ms in three runs), so the table shows each figure's median over the runs, and the notes
under it every run's value of each target's figure."""

from __future__ import annotations

import statistics
from typing import Any


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _merged(values: list[Any]) -> Any:
    """Numbers: their median, a value one of the runs measured (the lower middle one of an
    even count); None where a run had none (it hit its cap, messages went missing). Flags:
    true only if true in every run. Mappings: merged key by key. Anything else: the first
    run's."""
    if all(_is_number(value) or value is None for value in values) and any(_is_number(v) for v in values):
        return None if None in values else statistics.median_low(values)
    if all(isinstance(value, bool) for value in values):
        return all(values)
    if all(isinstance(value, dict) for value in values):
        keys = dict.fromkeys(key for value in values for key in value)
        return {key: _merged([value[key] for value in values if key in value]) for key in keys}
    return values[0]


def runs_merge(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One scenario's figures for one system over its runs, each run's kept under `runs`. Runs
    that failed count only in `runs`; when all failed, the first one's error stands."""
    finished = [run for run in runs if "error" not in run]
    if not finished:
        return {**runs[0], "runs": runs}
    return {**_merged(finished), "runs": runs}


def run_values(figures: dict[str, Any], key: str) -> list[Any] | None:
    """Each run's value of `key`, where the figures are several runs merged and the runs
    measured it (peak memory, for one, is read once, when the system stops)."""
    runs = figures.get("runs") or []
    if not any(key in run for run in runs):
        return None
    return [run.get(key, run.get("error") and "error") for run in runs]
