"""The Faust app of a Faust stage (the matcher, settlement, the candles): app id,
settings, topics.

The gate runs on confluent-kafka (README "Stages" says why). The guarantees of the whole
pipeline are in README "Processing guarantees".
"""

from __future__ import annotations

import os

import faust

from infra.replication import cluster_replication
from infra.settings import Settings, load
from infra.topics import PARTITIONS, partition_count
from streams.runtime import faust_fixes
from streams.runtime.faust_fixes.recovery_watch import RecoveryWatch
from streams.runtime.health import StageHealth
from streams.runtime.output import Output
from streams.runtime.readiness import signal_ready
from streams.runtime.stages import group_id

settings: Settings = load()
# the stage this process runs (streams/runtime/stages.py); tools importing the app have none
STAGE = os.environ.get("MATCHSTREAM_STAGE", "")
# what agents produce (Faust's producer serves its tables); a stage of several agents
# shares it, and it reports a broker that is away under the stage's name
output = Output(settings, StageHealth(STAGE) if STAGE else None)
# warm copies of each table partition on other workers (README "Stages")
STANDBY_REPLICAS = int(os.environ.get("MATCHSTREAM_STANDBY_REPLICAS") or 0)
# the copies the broker keeps of the changelogs Faust creates (infra/replication.py)
REPLICATION = cluster_replication(settings) if STAGE else None

faust_fixes.install()  # Faust's consumer and producer, fixed (streams/runtime/faust_fixes/)

app = faust.App(
    group_id(settings, STAGE) if STAGE else settings.app_id,
    broker=f"kafka://{settings.kafka_bootstrap}",
    store="memory://",
    processing_guarantee="at_least_once",
    topic_partitions=4,
    web_enabled=False,
    datadir=str(settings.home / "faust" / "{conf.id}"),
    autodiscover=False,
    # the stages acknowledge at their checkpoints, once a second at most: a commit timer
    # that wakes more often only costs (idle, a stage used 1.0% of a core at 0.1 s, 0.4%
    # at 1 s: Faust's commit and its livelock check at 2.5 times the interval)
    broker_commit_interval=1.0,
    # do not wait for in-flight events on stop or rebalance: the agent is safe to replay
    stream_wait_empty=False,
    # a killed worker's partitions move on after this long (Faust's default is 60 s)
    broker_session_timeout=10,
    broker_heartbeat_interval=1,
    producer_linger_ms=1,
    producer_max_request_size=64 * 1024 * 1024,  # a deep book's snapshot
    table_standby_replicas=STANDBY_REPLICAS,
    topic_replication_factor=REPLICATION.factor if REPLICATION else 1,
    producer_acks=-1,  # all in-sync replicas: the stages acknowledge what is durable
    # partitions added while the stage runs (`matchstream topics --partitions N`) are seen,
    # and rebalanced onto the group, within 10 s (Faust's default: 5 minutes), as the
    # confluent-kafka clients see them (infra/kafka_client.py METADATA_REFRESH)
    consumer_metadata_max_age_ms=10_000,
)


def source_partitions(topic: str) -> int:
    """Partitions of a table's source topic when the stage starts, for its changelog: Faust
    makes a missing changelog with the table's count, and assigns a changelog partition
    with the same-numbered source partition only when both topics have as many
    (`matchstream topics --partitions N` grows them together). Tools importing the app
    (no stage) get the spec's count without asking the broker."""
    return partition_count(settings, topic) if STAGE else PARTITIONS


def changelog_config(**extra: str) -> dict[str, str]:
    """The settings of a table's changelog topic: the platform's replication and `extra`."""
    return {**(REPLICATION.topic_config() if REPLICATION else {}), **extra}


@app.task
async def _ready() -> None:
    """Faust starts tasks once its tables are recovered: the stage is ready."""
    if STAGE:
        signal_ready(STAGE)


recovery_watch = RecoveryWatch(STAGE)


@app.on_partitions_assigned.connect
async def _watch_recovery(app, assigned, **kwargs) -> None:
    recovery_watch.start(app)


def raw_topic(name: str) -> faust.TopicT:
    """Raw bytes in and out: decoding happens in the agent, where errors become records."""
    return app.topic(settings.topic(name), key_type=bytes, value_type=bytes,
                     key_serializer="raw", value_serializer="raw")


orders = raw_topic("orders")  # what the matcher consumes
results = raw_topic("matcher-results")  # what settlement and the candles consume
CANDLES = settings.topic("candles")  # what they produce, through `output`
