"""How many copies of each topic partition the cluster keeps, and how many must have a
write before it is acknowledged (every producer sends with acks=all).

Unset, both follow the cluster's size: a factor of min(3, brokers) and, with three or
more copies, two in sync, so one broker can be lost without losing or refusing a write.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from confluent_kafka.admin import AdminClient

from infra.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Replication:
    factor: int
    min_insync: int

    def topic_config(self) -> dict[str, str]:
        return {"min.insync.replicas": str(self.min_insync)}


def default_replication(brokers: int) -> Replication:
    factor = min(3, brokers)
    return Replication(factor, 2 if factor >= 3 else 1)


def replication_for(settings: Settings, brokers: int) -> Replication:
    """The replication of the platform's topics on a cluster of `brokers` brokers;
    SystemExit when the settings ask for more than it can give."""
    factor = settings.replication_factor or default_replication(brokers).factor
    if factor > brokers:
        raise SystemExit(f"MATCHSTREAM_REPLICATION_FACTOR={factor} but the cluster at "
                         f"{settings.kafka_bootstrap} has {brokers} broker(s)")
    min_insync = settings.min_insync_replicas or (2 if factor >= 3 else 1)
    if min_insync > factor:
        raise SystemExit(f"MATCHSTREAM_MIN_INSYNC_REPLICAS={min_insync} is more than the "
                         f"replication factor {factor}: no write could be acknowledged")
    return Replication(factor, min_insync)


def broker_count(settings: Settings, retry_s: float = 2.0) -> int:
    """The cluster's live brokers; waits (saying so) while it is unreachable."""
    client = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    while True:
        try:
            return len(client.list_topics(timeout=10).brokers)
        except Exception as exc:  # unreachable: a world error, wait for it
            log.warning("kafka at %s unreachable (%s); retrying in %.0f s",
                        settings.kafka_bootstrap, exc, retry_s)
            time.sleep(retry_s)


def cluster_replication(settings: Settings) -> Replication:
    """The settings' replication; sized against the running cluster only when no factor
    is set (`matchstream topics` checks a set factor against the cluster)."""
    return replication_for(settings, settings.replication_factor or broker_count(settings))
