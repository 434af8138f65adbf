"""`matchstream worker` runs one process per stage and stands or falls as one: a stage
that dies takes the worker down (a half pipeline would look alive while standing
still), and a SIGKILLed supervisor leaves no stage behind."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from streams.runtime.stages import STAGES
from tests.faults import stage_pids
from tests.platform import wait_for


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_dead_stage_stops_the_worker(platform):
    worker = platform.start_worker()
    platform.wait_ready(worker)
    stages = stage_pids(worker.pid)
    assert set(stages) == set(STAGES), stages

    os.kill(stages["matcher"], signal.SIGKILL)
    code = worker.wait(timeout=60)
    assert code != 0
    assert not any(_alive(pid) for pid in stages.values()), "a stage outlived the worker"
    assert b"stage matcher exited" in worker.log_path.read_bytes()


def test_stages_die_with_a_killed_supervisor(platform):
    worker = platform.start_worker()
    platform.wait_ready(worker)
    stages = stage_pids(worker.pid)
    assert set(stages) == set(STAGES), stages

    os.kill(worker.pid, signal.SIGKILL)  # the supervisor alone, not its process group
    worker.wait(timeout=30)
    wait_for(lambda: not any(_alive(pid) for pid in stages.values()), 30,
             "every stage process gone after its supervisor was killed")
