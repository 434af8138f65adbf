"""Readiness: a stage says it has joined its group and restored its state.

Under `matchstream worker` the supervisor gives each stage the write end of a pipe
(MATCHSTREAM_READY_FD); the stage writes its name there once, and the supervisor prints
READY_LINE when every stage has. A stage run on its own prints STAGE_READY_LINE. Tools
that wait for a worker (tests, benchmarks, the demo) wait for these lines, not for any
library's log output.
"""

from __future__ import annotations

import os

ENV = "MATCHSTREAM_READY_FD"
READY_LINE = "matchstream worker: ready"
STAGE_READY_LINE = "matchstream stage ready:"


def signal_ready(stage: str) -> None:
    fd = os.environ.get(ENV)
    if fd:
        os.write(int(fd), f"{stage}\n".encode())
    else:
        print(f"{STAGE_READY_LINE} {stage}", flush=True)
