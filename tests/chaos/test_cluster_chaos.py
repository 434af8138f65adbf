"""Chaos on a three-broker cluster (tests/cluster.py): a broker fault while orders flow
at 500/s, then the same proof as every chaos test (tests/chaos/harness.py): every
request has one outcome, no trade settled twice, reconcile and the independent audit
exact, and no worker exits (none restarts in a loop)."""

from __future__ import annotations

import time

import pytest

from infra import kafka_broker
from tests import cluster as three_brokers
from tests.chaos.harness import Chaos
from tests.faults import stopped

LOAD_S = 30
RATE = 500
BROKER_SESSION_TIMEOUT_S = 9  # Kafka's broker.session.timeout.ms: then it is fenced

pytestmark = pytest.mark.chaos


def test_a_broker_lost_for_good_and_replaced(cluster, cluster_platform):
    chaos = Chaos(cluster_platform, "a broker of three lost for good, a new one in its place",
                  seed=707, rate=RATE)
    cluster_platform.wait_ready(chaos.start_worker())

    chaos.run(LOAD_S, lambda: three_brokers.replace(cluster, 3, down_s=5))


def test_a_broker_paused_past_its_session_timeout(cluster, cluster_platform):
    chaos = Chaos(cluster_platform, "a broker of three paused past its session timeout",
                  seed=808, rate=RATE)
    cluster_platform.wait_ready(chaos.start_worker())

    def fault() -> None:
        with stopped(kafka_broker.running_pid(cluster, 2)):
            time.sleep(BROKER_SESSION_TIMEOUT_S + 6)

    chaos.run(LOAD_S, fault)


def test_the_controller_quorum_losing_its_leader(cluster, cluster_platform):
    chaos = Chaos(cluster_platform, "the controllers' quorum leader killed, back after 15 s",
                  seed=909, rate=RATE)
    cluster_platform.wait_ready(chaos.start_worker())

    def fault() -> None:
        leader = three_brokers.quorum_leader(cluster)
        three_brokers.kill(cluster, leader)
        time.sleep(15)
        kafka_broker.start(cluster, say=print)

    chaos.run(LOAD_S, fault)
