"""A three-broker cluster of the project's own (`matchstream up --brokers 3`) for the
tests that need one: its own folder and ports, next to the session's single broker."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import time

from infra import kafka_broker, process, topics
from infra.settings import Settings
from tests.platform import wait_for

FIRST_PORT = 29192  # brokers on 29192, 29202, 29212 (controllers on the next ports)
BROKERS = 3


def start(services: Settings) -> Settings:
    home = services.home / "cluster"
    shutil.rmtree(home, ignore_errors=True)
    settings = dataclasses.replace(services, home=home, kafka_port=FIRST_PORT,
                                   namespace="cluster")
    kafka_broker.set_cluster_size(settings, BROKERS)
    settings = dataclasses.replace(settings, kafka_brokers=BROKERS)
    kafka_broker.start(settings, say=print)
    topics.ensure_topics(settings, say=print)
    return settings


def stop(settings: Settings) -> None:
    """Stop the brokers and delete their data; the logs and chaos figures stay."""
    kafka_broker.stop(settings, say=print)
    shutil.rmtree(settings.home / "kafka", ignore_errors=True)


def under_replicated(settings: Settings) -> int:
    """Partitions of every topic with a copy out of their in-sync set."""
    meta = topics.admin(settings).list_topics(timeout=10)
    return sum(1 for topic in meta.topics.values() for part in topic.partitions.values()
               if len(part.isrs) < len(part.replicas))


def restore(settings: Settings) -> None:
    """Every broker running and every copy in sync again."""
    kafka_broker.start(settings, say=print)
    wait_for(lambda: under_replicated(settings) == 0, 180, "every copy back in sync")


def kill(settings: Settings, node: int) -> None:
    pid = kafka_broker.running_pid(settings, node)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not process.pid_alive(pid), 30, f"broker {node} gone")


def replace(settings: Settings, node: int, down_s: float) -> None:
    """Broker `node` lost for good (killed, its folder deleted) and, `down_s` later, a new
    one started in its place: formatted afresh, it copies its partitions from the others."""
    kill(settings, node)
    shutil.rmtree(kafka_broker.data_dir(settings, node))
    time.sleep(down_s)
    kafka_broker.start(settings, say=print)


def quorum_leader(settings: Settings) -> int:
    """The node that leads the controllers' quorum: the leader of the latest epoch in the
    running nodes' `quorum-state` files (KRaft keeps one in its metadata log folder)."""
    states = []
    for node in kafka_broker.nodes(settings):
        path = kafka_broker.data_dir(settings, node) / "__cluster_metadata-0" / "quorum-state"
        if kafka_broker.running_pid(settings, node) and path.exists():
            state = json.loads(path.read_text())
            if state.get("leaderId", -1) >= 0:
                states.append((state["leaderEpoch"], state["leaderId"]))
    assert states, "no quorum leader known to any running node"
    return max(states)[1]
