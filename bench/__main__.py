"""`python -m bench [--quick] [--repeat N] [--scenarios a,b] [--systems clarion,naive,ceiling]`: see
bench/harness.py, and the README's Benchmark section for what each scenario measures."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from bench.report import SYSTEM_ORDER

SCENARIO_ORDER = ("accept", "fanout", "throughput", "latency", "priority", "inapp", "cost")


def _names(allowed: tuple[str, ...]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in names if name not in allowed]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(allowed)}")
        return [name for name in allowed if name in names]

    return parse


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError("a whole number, 1 or more")
    return int(text)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes, to prove the bench still works (about a minute)"
    )
    parser.add_argument(
        "--scenarios",
        type=_names(SCENARIO_ORDER),
        default=list(SCENARIO_ORDER),
        help=f"comma-separated, of {','.join(SCENARIO_ORDER)} (default: all)",
    )
    parser.add_argument(
        "--systems",
        type=_names(SYSTEM_ORDER),
        default=list(SYSTEM_ORDER),
        help=f"comma-separated, of {','.join(SYSTEM_ORDER)} (default: all)",
    )
    parser.add_argument(
        "--repeat",
        type=_positive,
        default=1,
        help="run each scenario this many times; the table shows each figure's median (bench/repeats.py)",
    )
    parser.add_argument(
        "--database",
        choices=("auto", "postgresql", "sqlite"),
        default="auto",
        help="auto: PostgreSQL when it answers on 127.0.0.1:5432, else SQLite",
    )
    parser.add_argument(
        "--redis",
        choices=("auto", "embedded"),
        default="auto",
        help="auto: REDIS_URL when set (the bench empties its queues), else an embedded Redis",
    )
    parser.add_argument(
        "--ceiling-threads",
        type=int,
        default=None,
        help="sends in flight per ceiling process (default: CLARION_SEND_CONCURRENCY, as Clarion's workers)",
    )
    parser.add_argument(
        "--output", default=str(Path(__file__).resolve().parent / "results.json"), help="default: bench/results.json"
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep every process's log (kept anyway on errors)")
    options = parser.parse_args(argv)

    from bench.harness import run

    return run(options)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
