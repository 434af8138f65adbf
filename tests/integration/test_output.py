"""The stages' output (streams/runtime/output.py) on the real broker: records of many
partitions go out in one request per round, on the partition their key gives; a mark
waits for the records before it; a refused record fails the wait; the broker away delays
records without losing or doubling them."""

from __future__ import annotations

import asyncio
import logging
import math
import uuid

import pytest
from aiokafka.structs import TopicPartition
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, NewTopic

from infra.kafka_client import partition_for
from streams.runtime.output import DeliveryFailed, Output
from tests.faults import restart_kafka
from tests.platform import consume

PARTITIONS = 4


def new_topic(platform, **config: str) -> str:
    """A topic of the test's namespace (deleted with it)."""
    name = platform.topic(f"output-{uuid.uuid4().hex[:8]}")
    admin = AdminClient({"bootstrap.servers": platform.settings.kafka_bootstrap})
    admin.create_topics([NewTopic(name, PARTITIONS, 1, config=config)])[name].result()
    return name


def read_back(platform, topic: str, count: int) -> list[tuple[bytes, bytes, int]]:
    """The topic's records: at least `count`, and any more that come within 2 s."""
    consumer = Consumer({"bootstrap.servers": platform.settings.kafka_bootstrap,
                         "group.id": f"test-{uuid.uuid4().hex}", "auto.offset.reset": "earliest",
                         "enable.auto.commit": False})
    consumer.subscribe([topic])
    try:
        records = consume(consumer, count, 30)
        while (extra := consumer.poll(2.0)) is not None:
            records.append(extra)
        return [(m.key(), m.value(), m.partition()) for m in records]
    finally:
        consumer.close()


def test_records_of_every_partition_are_delivered_on_their_keys_partition(platform):
    topic = new_topic(platform)
    keys = [f"SYM{i}".encode() for i in range(12)]

    async def run():
        out = Output(platform.settings)
        for round_ in range(3):
            for key in keys:
                out.send(topic, key, b"%d" % round_)
        await out.flush()
        assert out._taken == out.mark() == 36
        await out.close()
    asyncio.run(run())

    records = read_back(platform, topic, 36)
    assert len(records) == 36
    for key, value, partition in records:
        assert partition == partition_for(key, PARTITIONS)
    by_key: dict[bytes, list[bytes]] = {}
    for key, value, _ in records:
        by_key.setdefault(key, []).append(value)
    assert by_key == {key: [b"0", b"1", b"2"] for key in keys}  # in order, once each


def test_a_mark_waits_for_the_records_before_it_only(platform):
    topic = new_topic(platform)

    async def run():
        out = Output(platform.settings)
        for i in range(3):
            out.send(topic, b"k", b"%d" % i)
        mark = out.mark()
        out.send(topic, b"k", b"later")  # sent while a checkpoint completes
        await out.delivered(mark)
        assert out._waits(mark) == []
        await out.flush()
        assert out._waits(out.mark()) == []
        await out.close()
    asyncio.run(run())
    assert [v for _, v, _ in read_back(platform, topic, 4)] == [b"0", b"1", b"2", b"later"]


def test_a_refused_record_fails_the_wait_and_names_its_partition(platform):
    topic = new_topic(platform, **{"max.message.bytes": "2000"})

    async def run():
        out = Output(platform.settings)
        out.send(topic, b"k", b"x" * 10_000, partition=1)
        with pytest.raises(DeliveryFailed, match=rf"{topic}\[1\].*MessageSizeTooLarge"):
            await asyncio.wait_for(out.flush(), 30)
        await out.close()
    asyncio.run(run())


def test_a_batch_waiting_for_a_leader_never_expires(platform):
    """aiokafka fails a batch queued longer than request_timeout_ms while its partition
    has no leader; Output turns that expiry off (a private attribute: this catches an
    aiokafka release that renames it)."""
    async def run():
        out = Output(platform.settings)
        producer = await out._producer()
        try:
            accumulator = producer._message_accumulator
            tp = TopicPartition("no-such-topic", 0)
            batch = accumulator._append_batch(producer.create_batch(), tp)
            del accumulator._batches[tp]  # it would wait for a leader forever
            batch._ctime -= 10 * 24 * 3600
            assert not batch.expired()
            assert accumulator._batch_ttl == math.inf
        finally:
            await producer.stop()
    asyncio.run(run())


class Counting(logging.Handler):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text, self.count = text, 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += self.text in record.getMessage()


def test_records_sent_while_the_broker_is_away_arrive_once_it_is_back(platform):
    """...and the producer waits between metadata requests: aiokafka's own loop retries
    at once while a partition has no leader (~100k failed connects in a restart)."""
    topic = new_topic(platform)
    settings = platform.settings
    failed_updates = Counting("Unable to update metadata")
    logging.getLogger("aiokafka").addHandler(failed_updates)

    sent = 0
    delivered_at: list[int] = []  # sends after which everything sent was delivered

    async def run():
        nonlocal sent
        out = Output(settings)
        out.send(topic, b"k", b"before")
        await out.flush()
        loop = asyncio.get_running_loop()
        restarted = loop.run_in_executor(None, restart_kafka, settings, 3.0)
        while not restarted.done():  # through the shutdown, the outage and the start
            out.send(topic, b"k%d" % sent, b"during")
            sent += 1
            if not out._waits(out.mark()):
                delivered_at.append(sent)
            await asyncio.sleep(0.02)
        await restarted
        await asyncio.wait_for(out.flush(), 120)
        await out.close()
    try:
        asyncio.run(run())
    finally:
        logging.getLogger("aiokafka").removeHandler(failed_updates)
    print(f"{sent} sent, {failed_updates.count} failed metadata updates")
    assert failed_updates.count < 600  # 10 a second at most; the restart takes < 60 s
    assert len(delivered_at) < sent - 50, "the broker was never away?"

    records = read_back(platform, topic, sent + 1)
    assert sorted(k for k, v, _ in records if v == b"during") == sorted(
        b"k%d" % i for i in range(sent))  # each once
    assert len(records) == sent + 1
