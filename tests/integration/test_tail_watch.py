"""The matcher's tail watch against the real broker
(streams/runtime/faust_fixes/position_guard.py): a quiet partition whose records go past
the group's committed offset is read back from there."""

from __future__ import annotations

import time

from confluent_kafka import Consumer, TopicPartition

from streams.runtime.faust_fixes.position_guard import TailWatch
from streams.runtime.stages import group_id


def test_records_past_the_committed_offset_of_a_quiet_partition(platform):
    p = platform
    topic, group = p.topic("orders"), group_id(p.settings, "matcher")
    for n in range(3):
        p.send("orders", b"ACME", b"record %d" % n)
    p.flush()
    partition = next(tp.partition for tp in _ends(p, topic) if tp.offset == 3)
    committer = Consumer({"bootstrap.servers": p.settings.kafka_bootstrap, "group.id": group,
                          "enable.auto.commit": False})
    committer.commit(offsets=[TopicPartition(topic, partition, 1)], asynchronous=False)
    committer.close()

    watch = TailWatch("matcher", p.settings.kafka_bootstrap, group, quiet_s=0.05)
    key = (topic, partition)
    watch.delivered({key})
    assert watch.ranges({}) == {}  # not quiet yet
    time.sleep(0.06)
    assert watch.ranges({}) == {key: (1, 3)}  # from the committed offset
    time.sleep(0.06)
    assert watch.ranges({key: 3}) == {}  # the agent's own position is at the end
    time.sleep(0.06)
    assert watch.ranges({key: 2}) == {key: (2, 3)}


def _ends(p, topic: str) -> list[TopicPartition]:
    probe = Consumer({"bootstrap.servers": p.settings.kafka_bootstrap, "group.id": "probe"})
    meta = probe.list_topics(topic, timeout=10).topics[topic]
    out = [TopicPartition(topic, n, probe.get_watermark_offsets(
        TopicPartition(topic, n), timeout=10)[1]) for n in meta.partitions]
    probe.close()
    return out
