"""`matchstream worker`: one process per pipeline stage, run and watched as one worker.

Each child's output is forwarded line by line with its stage as a prefix. Each stage
tells the supervisor when it is ready on a pipe (streams/runtime/readiness.py); the supervisor
prints READY_LINE once every stage has. When one stage exits the others are stopped and
the worker exits with its status (a service manager restarts the whole): a worker with
a stage missing would look alive while its pipeline stands still. Children die with the
supervisor, even on SIGKILL (PR_SET_PDEATHSIG). Every PRUNE_EVERY_S the supervisor also
prunes the API's request bookkeeping past its retention (ledger/retention.py).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from streams.runtime import metrics_server, readiness
from streams.runtime.stages import STAGES

PRUNE_ENV = "MATCHSTREAM_PRUNE_EVERY_S"  # 0: never
PRUNE_EVERY_S = 3600.0
STOP_GRACE_S = 20.0
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it when the supervisor goes, however it goes."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: children then outlive a SIGKILLed supervisor


def _say(line: bytes) -> None:
    sys.stdout.buffer.write(line)
    sys.stdout.buffer.flush()


class Supervisor:
    def __init__(self, stages: list[str], faust_args: list[str], metrics_dir: Path) -> None:
        self.stages = stages
        self.faust_args = faust_args
        self.metrics_dir = metrics_dir
        self.children: dict[str, subprocess.Popen] = {}
        self.ready: set[str] = set()
        self._stopping = False

    def start(self) -> None:
        ready_r, ready_w = os.pipe()
        # every child is forked before any thread starts: preexec_fn is only safe then
        for stage in self.stages:
            env = dict(os.environ, MATCHSTREAM_STAGE=stage, PYTHONUNBUFFERED="1",
                       **{metrics_server.ENV: str(self.metrics_dir),
                          readiness.ENV: str(ready_w)})
            self.children[stage] = subprocess.Popen(
                [sys.executable, "-m", "cli.main", "worker", "--stage", stage,
                 *self.faust_args],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, pass_fds=(ready_w,),
                preexec_fn=_die_with_parent)  # noqa: PLW1509
        os.close(ready_w)
        for stage, proc in self.children.items():
            threading.Thread(target=self._forward, args=(stage, proc), daemon=True,
                             name=f"forward-{stage}").start()
        threading.Thread(target=self._readiness, args=(ready_r,), daemon=True,
                         name="readiness").start()

    def _forward(self, stage: str, proc: subprocess.Popen) -> None:
        prefix = f"{stage:<10}| ".encode()
        for line in iter(proc.stdout.readline, b""):
            _say(prefix + line)

    def _readiness(self, fd: int) -> None:
        with os.fdopen(fd, "rb") as pipe:
            for line in pipe:
                stage = line.decode().strip()
                _say(f"worker: stage {stage} ready\n".encode())
                self.ready.add(stage)
                if self.ready == set(self.stages):
                    _say(f"{readiness.READY_LINE} (stages: {', '.join(self.stages)})\n"
                         .encode())

    def wait(self) -> int:
        """Until a stage exits (or a stop signal): stop the rest; the exit status."""
        while True:
            for stage, proc in self.children.items():
                code = proc.poll()
                if code is not None:
                    metrics_server.stage_exited(self.metrics_dir, proc.pid)
                    if not self._stopping:
                        _say(f"worker: stage {stage} exited with {code}; stopping the "
                             "others\n".encode())
                    stopping = self._stopping
                    self.stop()
                    return 0 if stopping else (code or 1)
            time.sleep(0.2)

    def stop(self, *_args) -> None:
        self._stopping = True
        for proc in self.children.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for proc in self.children.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _prune_every(every: float) -> None:
    """Prune now and then; a failure (the database away) waits for the next round."""
    from infra.settings import load
    from ledger.db import make_engine
    from ledger.retention import prune

    engine = make_engine(load().database_url, pool_size=1)
    while True:
        time.sleep(every)
        try:
            removed = prune(engine)
        except Exception as exc:  # noqa: BLE001 - retried next round, said in the log
            _say(f"worker: prune failed: {exc.__class__.__name__}: {exc}\n".encode())
            continue
        if any(removed.values()):
            _say(f"worker: pruned {removed}\n".encode())


def run(stages: list[str] | None, faust_args: list[str], run_dir: Path,
        metrics_port: int) -> int:
    chosen = stages or list(STAGES)
    metrics_dir = metrics_server.prepare(run_dir / f"worker-{os.getpid()}-metrics")
    supervisor = Supervisor(chosen, faust_args, metrics_dir)
    signal.signal(signal.SIGTERM, lambda *_: supervisor.stop())
    signal.signal(signal.SIGINT, lambda *_: supervisor.stop())
    _say(f"worker: starting stages {', '.join(chosen)}\n".encode())
    supervisor.start()
    metrics_server.serve(metrics_dir, metrics_port, _say)  # a thread: after every fork
    every = float(os.environ.get(PRUNE_ENV) or PRUNE_EVERY_S)
    if every > 0:
        threading.Thread(target=_prune_every, args=(every,), daemon=True,
                         name="prune").start()
    try:
        return supervisor.wait()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
