"""Faults injected into the real services and processes of a test: the chaos tests' tools.

PostgreSQL and Kafka are the session's own (infra/), shared by every test: each fault
here restores the service before it returns, so the next test finds it as it was.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import psycopg

from infra import kafka_broker, postgres
from infra.settings import DATABASE_USER, Settings


def _admin(settings: Settings) -> psycopg.Connection:
    return psycopg.connect(f"postgresql://{DATABASE_USER}@127.0.0.1:{settings.pg_port}/postgres",
                           autocommit=True)


def _set_read_only(settings: Settings, on: bool) -> None:
    with _admin(settings) as conn:
        conn.execute("SET default_transaction_read_only = off")  # this session may write
        if on:
            conn.execute("ALTER SYSTEM SET default_transaction_read_only = on")
        else:
            conn.execute("ALTER SYSTEM RESET default_transaction_read_only")
        conn.execute("SELECT pg_reload_conf()")
        if on:  # as a failover does: every client reconnects, to a read-only server
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")


@contextlib.contextmanager
def read_only_database(settings: Settings):
    """The cluster read-only, as after a failover to a standby: connections are cut and
    every transaction after that is read-only."""
    _set_read_only(settings, True)
    try:
        yield
    finally:
        _set_read_only(settings, False)


def restart_postgres(settings: Settings, down_s: float = 0.0) -> None:
    """A fast shutdown (open sessions are cut), `down_s` seconds down, then started again."""
    postgres.stop(settings, say=lambda *_: None)
    time.sleep(down_s)
    postgres.start(settings, say=lambda *_: None)


def restart_kafka(settings: Settings, down_s: float = 0.0) -> None:
    """The broker stopped (SIGTERM: a controlled shutdown), `down_s` seconds down, started."""
    kafka_broker.stop(settings, say=lambda *_: None)
    time.sleep(down_s)
    kafka_broker.start(settings, say=lambda *_: None)


def stage_pids(worker_pid: int) -> dict[str, int]:
    """stage -> pid of a worker's stage processes (the children of its supervisor)."""
    try:
        children = Path(f"/proc/{worker_pid}/task/{worker_pid}/children").read_text().split()
    except OSError:
        return {}
    out = {}
    for child in children:
        try:
            argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--stage" in argv:
            out[argv[argv.index(b"--stage") + 1].decode()] = int(child)
    return out


def stage_pid(worker: subprocess.Popen, stage: str) -> int:
    found = stage_pids(worker.pid)
    assert stage in found, f"worker {worker.pid} has no {stage} stage: {found}"
    return found[stage]


@contextlib.contextmanager
def stopped(pid: int):
    """SIGSTOP the process (or, for a negative pid, the process group) until the block ends."""
    kill = os.killpg if pid < 0 else os.kill
    kill(abs(pid), signal.SIGSTOP)
    try:
        yield
    finally:
        kill(abs(pid), signal.SIGCONT)


class Waits:
    """A retry policy's listener (ledger/retry.py): the reasons it waited, in order."""

    def __init__(self) -> None:
        self.reasons: list[str] = []

    def blocked(self, reason: str, detail: str, retry_in: float) -> None:
        self.reasons.append(reason)

    def cleared(self) -> None:
        pass
