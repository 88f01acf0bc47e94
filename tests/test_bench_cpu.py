"""The bench's CPU reading counts a process that came and went between two readings
(bench/cpu.py): PostgreSQL's backends and replaced worker processes did not show before."""

from __future__ import annotations

import os
import subprocess
import sys

from bench.cpu import TICKS_PER_SECOND, tree_ticks

# A child that keeps a core busy for this much CPU time, then exits.
BURN = "import time\nstart = time.process_time()\nwhile time.process_time() - start < {seconds}: pass"


def test_a_child_that_exited_between_two_readings_is_counted():
    seconds = 0.3
    before = tree_ticks(os.getpid())
    subprocess.run([sys.executable, "-c", BURN.format(seconds=seconds)], check=True)
    assert tree_ticks(os.getpid()) - before >= seconds * TICKS_PER_SECOND * 0.8
