"""Consumer lag of the pipeline, for /metrics: input records the workers have not processed.

Per stage (its consumer group) and partition of its input topics: the high watermark
minus the group's committed offset. The gate, matcher and settlement commit only what
they have applied (streams/runtime/direct.py, streams/matcher.py). With no commit yet a group
starts at the earliest record, so the lag counts from the low watermark.

Measured at scrape time in a thread (confluent-kafka's AdminClient blocks), at most once
per CACHE_S however often /metrics is scraped, with short broker timeouts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily

from streams.runtime.stages import consumer_groups

log = logging.getLogger("matchstream.api.lag")

CACHE_S = 1.5
TIMEOUT_S = 2.0

Key = tuple[str, int]


@dataclass(frozen=True, slots=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    lag: int


def partition_lag(high: int, low: int, committed: int | None) -> int:
    """Records from the consumer's position to the end; positions below `low` are gone."""
    position = max(low, committed) if committed is not None and committed >= 0 else low
    return max(0, high - position)


class LagMonitor:
    def __init__(self, settings) -> None:
        # one consumer group per pipeline stage (streams/runtime/stages.py)
        self.groups = consumer_groups(settings)
        self.topics = sorted({t for topics in self.groups.values() for t in topics})
        self._bootstrap = settings.kafka_bootstrap
        self._admin: AdminClient | None = None
        self._lock = asyncio.Lock()
        self._measured_at = float("-inf")
        self.lags: list[PartitionLag] | None = None  # None: the last measurement failed
        self.registry = CollectorRegistry()
        self.registry.register(_Collector(self))

    async def refresh(self) -> None:
        """Measure again unless the last measurement is recent; concurrent scrapes share one."""
        async with self._lock:
            if time.monotonic() - self._measured_at < CACHE_S:
                return
            try:
                self.lags = await asyncio.to_thread(self._measure)
            except (KafkaException, TimeoutError) as exc:  # broker away: no figure, say so
                log.warning("consumer lag not measured: %s", exc)
                self.lags = None
            self._measured_at = time.monotonic()

    def _measure(self) -> list[PartitionLag]:
        if self._admin is None:
            self._admin = AdminClient({"bootstrap.servers": self._bootstrap})
        admin = self._admin
        metadata = admin.list_topics(timeout=TIMEOUT_S).topics
        parts = [TopicPartition(t, p) for t in self.topics if t in metadata
                 for p in sorted(metadata[t].partitions)]
        if not parts:
            return []
        high = _offsets(admin, parts, OffsetSpec.latest())
        low = _offsets(admin, parts, OffsetSpec.earliest())
        out = []
        for group, topics in self.groups.items():
            mine = [tp for tp in parts if tp.topic in topics]
            if not mine:
                continue
            found = admin.list_consumer_group_offsets(  # one group per request
                [ConsumerGroupTopicPartitions(group, mine)], request_timeout=TIMEOUT_S)
            committed = {(tp.topic, tp.partition): tp.offset
                         for tp in found[group].result(timeout=TIMEOUT_S).topic_partitions}
            out += [PartitionLag(group, tp.topic, tp.partition, partition_lag(
                high[key], low[key], committed.get(key)))
                for tp in mine for key in [(tp.topic, tp.partition)]]
        return out


def _offsets(admin: AdminClient, parts: list[TopicPartition], spec) -> dict[Key, int]:
    futures = admin.list_offsets({tp: spec for tp in parts}, request_timeout=TIMEOUT_S)
    return {(tp.topic, tp.partition): f.result(timeout=TIMEOUT_S).offset
            for tp, f in futures.items()}


class _Collector:
    """Exposes the monitor's last measurement (a measurement that failed exposes none)."""

    def __init__(self, monitor: LagMonitor) -> None:
        self.monitor = monitor

    def collect(self) -> Iterable[GaugeMetricFamily]:
        m = self.monitor
        up = GaugeMetricFamily("matchstream_consumer_lag_up",
                               "1 when the last consumer lag measurement succeeded")
        up.add_metric([], 0 if m.lags is None else 1)
        yield up
        if m.lags is None:
            return
        per_partition = GaugeMetricFamily(
            "matchstream_consumer_lag", "Records of an input partition the pipeline has "
            "not processed yet", labels=["group", "topic", "partition"])
        per_topic = GaugeMetricFamily(
            "matchstream_consumer_topic_lag", "Records of an input topic the pipeline has "
            "not processed yet (sum over its partitions)", labels=["group", "topic"])
        sums: dict[tuple[str, str], int] = {}
        for p in m.lags:
            per_partition.add_metric([p.group, p.topic, str(p.partition)], p.lag)
            sums[(p.group, p.topic)] = sums.get((p.group, p.topic), 0) + p.lag
        for (group, topic), total in sums.items():
            per_topic.add_metric([group, topic], total)
        yield per_partition
        yield per_topic
