"""`python -m bench --quick` as a process of its own, started when the suite is collected.

It runs on its own SQLite file and embedded Redis, apart from the tests' stores, and spends
most of its minute starting and stopping processes: started with the suite, it overlaps the
other tests instead of adding that minute at the end. Its test waits for it and checks what
it wrote.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ("accept", "throughput", "inapp", "cost")
REPEAT = 2  # each scenario twice, so that the merging of runs is exercised too
TEST_FILE = "test_bench_quick.py"


@dataclass(frozen=True)
class QuickBenchRun:
    returncode: int
    output: Path
    stdout: str
    stderr: str


class QuickBench:
    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="clarion-quick-bench-"))
        self.output = self.workdir / "results.json"
        self._stdout = (self.workdir / "stdout").open("w+")
        self._stderr = (self.workdir / "stderr").open("w+")
        command = [sys.executable, "-m", "bench", "--quick", "--repeat", str(REPEAT)]
        command += ["--scenarios", ",".join(SCENARIOS), "--output", str(self.output)]
        command += ["--database", "sqlite", "--redis", "embedded"]
        self._process = subprocess.Popen(
            command, cwd=REPO_ROOT, stdout=self._stdout, stderr=self._stderr, text=True, start_new_session=True
        )

    def result(self, timeout: float) -> QuickBenchRun:
        returncode = self._process.wait(timeout=timeout)
        return QuickBenchRun(returncode, self.output, self._read(self._stdout), self._read(self._stderr))

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=30)
        self._stdout.close()
        self._stderr.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    @staticmethod
    def _read(stream: object) -> str:
        stream.seek(0)
        return stream.read()


QUICK_BENCH_KEY = pytest.StashKey[QuickBench]()


def quick_bench_start_if_collected(session: pytest.Session) -> None:
    """Start the quick bench when its test is among the tests about to run."""
    if session.config.option.collectonly:
        return
    if any(item.path.name == TEST_FILE for item in session.items):
        session.config.stash[QUICK_BENCH_KEY] = QuickBench()


def quick_bench_stop(config: pytest.Config) -> None:
    bench = config.stash.get(QUICK_BENCH_KEY, None)
    if bench is not None:
        bench.stop()
