"""Waiting for stage processes a bench started on its own (`worker --stage X`)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from streams.runtime.readiness import STAGE_READY_LINE

READY_TIMEOUT_S = 120.0
READY_POLL_S = 0.01  # the time returned starts a bench's span


def wait_ready(log_path: Path, procs: list[subprocess.Popen]) -> float:
    """When (time.time()) every one of `procs`, all logging to `log_path`, had said it is
    ready; exits the bench if one dies or READY_TIMEOUT_S passes first."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while log_path.read_bytes().count(STAGE_READY_LINE.encode()) < len(procs):
        if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
            raise SystemExit(f"the stage processes did not start; see {log_path}")
        time.sleep(READY_POLL_S)
    return time.time()
