"""Chaos: each fault injected into a pipeline under steady mixed load, then the proof that
the ledger is exact (tests/chaos/harness.py). One fault per test, each on its own
namespace; the session's PostgreSQL and Kafka are restored by each fault before it ends.
"""

from __future__ import annotations

import os
import random
import signal
import time

import pytest
from sqlalchemy import text

from tests.chaos.harness import ACCOUNTS, Chaos
from tests.faults import read_only_database, restart_kafka, restart_postgres, stopped
from tests.platform import wait_for

LOAD_S = 30
SESSION_TIMEOUT_S = 10  # the stages' consumers (streams/runtime/direct.py, streams/runtime/app.py)

pytestmark = pytest.mark.chaos


def test_sigkill_of_the_worker_several_times(platform):
    chaos = Chaos(platform, "SIGKILL of the worker, 3 times", seed=101)
    worker = chaos.start_worker()
    platform.wait_ready(worker)
    rng = random.Random(5)

    def fault() -> None:
        current = worker
        for _ in range(3):
            current = chaos.restart(current, signal.SIGKILL)
            platform.wait_ready(current)
            time.sleep(rng.uniform(2.0, 5.0))

    chaos.run(LOAD_S, fault)


def test_sigstop_past_the_session_timeout_then_sigcont(platform):
    """Every stage of one worker frozen while the other worker takes its partitions over,
    then thawed mid-batch: for a while two consumers of each group overlap."""
    chaos = Chaos(platform, "SIGSTOP of a worker's stages past the session timeout", seed=202)
    first, second = chaos.start_worker(), chaos.start_worker()
    platform.wait_ready(first)
    platform.wait_ready(second)

    def fault() -> None:
        with stopped(-first.pid):
            time.sleep(SESSION_TIMEOUT_S + 8)

    chaos.run(LOAD_S, fault)


def test_postgres_restarted(platform):
    chaos = Chaos(platform, "PostgreSQL restarted (fast shutdown)", seed=303)
    platform.wait_ready(chaos.start_worker())
    chaos.run(LOAD_S, lambda: restart_postgres(platform.settings, down_s=3))


def test_postgres_read_only_for_twenty_seconds(platform):
    chaos = Chaos(platform, "PostgreSQL read-only for 20 s", seed=404)
    platform.wait_ready(chaos.start_worker())

    def fault() -> None:
        with read_only_database(platform.settings):
            time.sleep(20)

    figures = chaos.run(LOAD_S, fault)
    assert figures.blocked.get("gate/read_only"), figures.blocked


def test_kafka_broker_restarted(platform):
    chaos = Chaos(platform, "Kafka broker restarted", seed=505)
    platform.wait_ready(chaos.start_worker())
    chaos.run(LOAD_S, lambda: restart_kafka(platform.settings, down_s=3))


def test_two_gates_on_the_same_partitions(platform):
    """A second gate process shares order-requests. One gate is held inside its transaction
    (a row lock taken by someone else), frozen there past the session timeout, and thawed
    once the other gate has taken its partitions over and waits on its locks: for a moment
    two gates handle the same requests at once."""
    chaos = Chaos(platform, "two gate processes, one frozen inside its transaction", seed=606)
    worker = chaos.start_worker()
    gate = chaos.start_worker("--stage", "gate")
    platform.wait_ready(worker)
    platform.wait_ready(gate)

    def fault() -> None:
        with platform.db.connect() as conn, conn.begin():
            conn.execute(text("SELECT 1 FROM accounts WHERE account_id = :a FOR UPDATE"),
                         {"a": ACCOUNTS[0]})
            pid = wait_for(lambda: _gate_waiting_on_a_lock(platform), 60,
                           "a gate waiting on the held account", chaos.logs())
            os.kill(pid, signal.SIGSTOP)
        try:  # the lock is released: the frozen gate now holds its own
            time.sleep(SESSION_TIMEOUT_S + 8)
        finally:
            os.kill(pid, signal.SIGCONT)

    chaos.run(LOAD_S, fault)


def _gate_waiting_on_a_lock(p) -> int | None:
    """The pid of a gate process whose transaction waits for a row lock (its connections
    are named `matchstream-gate PID`)."""
    name = p.scalar("SELECT application_name FROM pg_stat_activity WHERE wait_event_type = "
                    "'Lock' AND application_name LIKE 'matchstream-gate %' LIMIT 1")
    return int(name.split()[1]) if name else None
