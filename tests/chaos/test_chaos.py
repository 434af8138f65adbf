"""Chaos: each fault injected into a pipeline under steady mixed load, then the proof that
the ledger is exact (tests/chaos/harness.py). One fault per test, each on its own
namespace; the session's PostgreSQL and Kafka are restored by each fault before it ends.
"""

from __future__ import annotations

import random
import signal
import time

import pytest

from tests.chaos.harness import Chaos
from tests.faults import read_only_database, restart_kafka, restart_postgres, stage_pid, stopped

LOAD_S = 30
SESSION_TIMEOUT_S = 10  # the stages' consumers (streams/direct.py, streams/matcher.py)

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
    """A second gate process shares order-requests; one of them is frozen past the session
    timeout and thawed, so the two handle some requests at once."""
    chaos = Chaos(platform, "two gate processes, one frozen and thawed", seed=606)
    worker = chaos.start_worker()
    gate = chaos.start_worker("--stage", "gate")
    platform.wait_ready(worker)
    platform.wait_ready(gate)

    def fault() -> None:
        with stopped(stage_pid(worker, "gate")):
            time.sleep(SESSION_TIMEOUT_S + 8)

    chaos.run(LOAD_S, fault)
