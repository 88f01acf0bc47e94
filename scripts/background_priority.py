"""`python -m scripts.background_priority INCREMENT COMMAND [ARG...]`: run COMMAND niced by
INCREMENT, as `nice -n INCREMENT` does, with its session's scheduling group niced to match.

Where the kernel groups CPU time by session (CONFIG_SCHED_AUTOGROUP: on by default in the
kernels of most distributions, and on this machine), `nice` ranks a process only against the
other processes of its session; sessions share the CPU equally between them. `make run` and
the bench start each process in a session of its own, so workers started with `nice -n 10`
got as much CPU as the web server whenever both were busy, and the API's latency rose with
every burst of deliveries (`make bench`'s accept at 300 requests/s with the workers delivering
them: p99 217–457 ms; 43–56 ms once their sessions were niced too). A session's group has a
niceness of its own, in /proc/self/autogroup (sched(7)): set to the process's, the whole
session goes below the ones at 0. Where that file is absent (no autogrouping, or processes in
cgroups of their own, as systemd starts services: give the worker units a lower CPUWeight=),
plain nice is what counts.
"""

from __future__ import annotations

import errno
import os
import sys
import time
from pathlib import Path

AUTOGROUP = Path("/proc/self/autogroup")
# Without CAP_SYS_ADMIN the kernel takes one autogroup change per 100 ms, machine-wide, and
# refuses the others with EAGAIN: make run starts its background processes together.
AUTOGROUP_ATTEMPTS = 30
AUTOGROUP_RETRY_SECONDS = 0.1


def autogroup_nice_set(niceness: int, autogroup: Path = AUTOGROUP) -> bool:
    """Set the niceness of the calling process's session group; False where the kernel has
    no such groups or refuses the change."""
    for _ in range(AUTOGROUP_ATTEMPTS):
        try:
            autogroup.write_text(str(niceness))
            return True
        except OSError as error:
            if error.errno != errno.EAGAIN:
                return False
            time.sleep(AUTOGROUP_RETRY_SECONDS)
    return False


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__.split("\n\n", 1)[0], file=sys.stderr)
        return 2
    niceness = os.nice(int(argv[0]))
    autogroup_nice_set(niceness)
    command = argv[1:]
    os.execvp(command[0], command)  # noqa: S606 - the command is the caller's, by design


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
