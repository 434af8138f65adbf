"""The agents' output records, produced with confluent-kafka.

Faust's own producer costs tens of microseconds of Python per record (futures,
callbacks, its buffer); librdkafka batches in C. Agents `send` (a non-blocking
enqueue) and, before acknowledging the input a batch came from, wait until the broker
has the records: `flush()` (the gate, which blocks its loop: nothing else runs on it) or
`delivered(mark)` (the Faust stages); either raises if the broker refused one.

Records are never timed out locally (message.timeout.ms 0): while the broker is away
the flush waits, as a batch waits for an unreachable database, rather than dropping.
Every record gets its delivery report: with only errors reported
(delivery.report.only.error) a flush cannot see deliveries arrive and sleeps in 10 ms
steps (librdkafka's rd_kafka_flush), which measured as ~16 ms a flush in the gate.

A record for a partition librdkafka's metadata does not show yet (added by `matchstream
topics --partitions N` since its last refresh, every 10 s) is refused at once
(_UNKNOWN_PARTITION): `send` asks the broker for the topic's partitions and sends again;
while the topic really has no such partition the stage waits, visibly (blocked,
`partitions`), as it waits for a broker that is away.

A stage that goes on sending while it waits for earlier records (the matcher completing
a checkpoint) waits with `mark()` and `delivered(mark)` instead of a flush: a flush
also waits for every record sent meanwhile, and serving the reports from another thread
while this one sends makes the two take turns at the GIL (~5 ms a turn). Reports are
counted per mark and served on the event loop's thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

from confluent_kafka import KafkaError, KafkaException, Producer

from infra.kafka_client import producer_config
from infra.settings import Settings
from streams.runtime.health import StageHealth

log = logging.getLogger(__name__)

QUEUE_FULL_WAIT_S = 0.05
FLUSH_REPORT_S = 5.0
PARTITION_WAIT_S = 5.0  # between two asks for a partition the topic does not have yet
DELIVERY_POLL_S = 0.0005


class DeliveryFailed(RuntimeError):
    """The broker refused a record for good; its input must not be acknowledged."""


class Mark:
    """The records sent between two marks: how many, and how many the broker reported on.
    Each count has one writer (the sending thread, the reporting thread)."""

    __slots__ = ("sent", "reported", "report")

    def __init__(self, failed) -> None:
        self.sent = 0
        self.reported = 0

        def report(err: KafkaError | None, msg) -> None:
            if err is not None:
                failed(err, msg)
            self.reported += 1
        self.report = report

    @property
    def done(self) -> bool:
        return self.reported >= self.sent


class Output:
    def __init__(self, settings: Settings, health: StageHealth | None = None,
                 linger_ms: float = 2) -> None:
        """`linger_ms`: how long a record may wait for others to share its request; a
        stage that flushes before it waits on anything else may send at once (0)."""
        self._settings = settings
        self.health = health
        self._linger_ms = linger_ms
        self._producer: Producer | None = None
        self._errors: list[str] = []
        self._lock = threading.Lock()
        self._current = Mark(self._failed)
        self._marks: list[Mark] = []  # marked, not yet all reported; oldest first

    def _client(self) -> Producer:
        if self._producer is None:
            self._producer = Producer(producer_config(
                self._settings, **{"linger.ms": self._linger_ms, "message.timeout.ms": 0,
                                   "queue.buffering.max.messages": 1_000_000,
                                   "message.max.bytes": 64 * 1024 * 1024}))
        return self._producer

    def _failed(self, err: KafkaError, msg) -> None:
        with self._lock:
            self._errors.append(f"{msg.topic()}[{msg.partition()}]: {err}")

    def send(self, topic: str, key: bytes | None, value: bytes | None,
             partition: int | None = None, headers: list | None = None) -> None:
        """Queue one record for the topic's full name; partition by key (murmur2) unless
        given."""
        producer = self._client()
        mark = self._current
        while True:
            mark.sent += 1  # before its report can come
            try:
                if partition is None and headers is None:
                    producer.produce(topic, value, key, on_delivery=mark.report)
                else:
                    producer.produce(topic, value, key, -1 if partition is None else partition,
                                     on_delivery=mark.report, headers=headers)
                return
            except BufferError:  # local queue full: let librdkafka drain it
                mark.sent -= 1
                producer.poll(QUEUE_FULL_WAIT_S)
            except KafkaException as exc:
                mark.sent -= 1
                if partition is None or exc.args[0].code() != KafkaError._UNKNOWN_PARTITION:
                    raise
                self._await_partition(topic, partition)

    def _await_partition(self, topic: str, partition: int) -> None:
        """Until the broker's metadata (now in librdkafka's cache too) shows `partition`."""
        producer = self._client()
        waited = 0.0
        while True:
            try:
                found = producer.list_topics(topic, timeout=PARTITION_WAIT_S).topics.get(topic)
            except KafkaException as exc:  # the broker away
                reason, detail = "broker", f"{topic}'s partitions unknown: {exc}"
            else:
                count = len(found.partitions) if found is not None else 0
                if partition < count:
                    if waited and self.health is not None:
                        self.health.cleared()
                    return
                reason = "partitions"
                detail = (f"{topic} has {count} partitions, a record is for partition "
                          f"{partition}: run `matchstream topics --partitions {partition + 1}`")
            if self.health is None:
                raise DeliveryFailed(detail)
            self.health.blocked(reason, detail, PARTITION_WAIT_S)
            time.sleep(PARTITION_WAIT_S)
            waited += PARTITION_WAIT_S

    def mark(self) -> Mark:
        """The records sent so far; those sent from now on belong to the next mark."""
        mark, self._current = self._current, Mark(self._failed)
        self._marks.append(mark)
        return mark

    async def delivered(self, upto: Mark) -> None:
        """Until the broker has every record sent up to `upto` (not those sent since);
        raises DeliveryFailed. Serves the delivery reports on this thread."""
        waited_since = time.monotonic()
        reported_at = waited_since
        while True:
            if self._producer is not None:
                self._producer.poll(0)
            while self._marks and self._marks[0].done:  # in order: done up to the first not
                self._marks.pop(0)
            if upto not in self._marks:
                break
            now = time.monotonic()
            if self.health is not None and now - reported_at >= FLUSH_REPORT_S:
                reported_at = now
                self.health.blocked("broker", f"records not delivered after "
                                    f"{now - waited_since:.0f}s", FLUSH_REPORT_S)
            await asyncio.sleep(DELIVERY_POLL_S)
        if reported_at != waited_since and self.health is not None:
            self.health.cleared()
        self._raise_errors()

    def flush(self) -> None:
        """Until the broker has every record sent so far (blocking); raises DeliveryFailed."""
        if self._producer is None:
            return
        waited = 0.0
        while self._producer.flush(FLUSH_REPORT_S) > 0:  # the broker is away: wait, visibly
            waited += FLUSH_REPORT_S
            if self.health is not None:
                self.health.blocked("broker", f"{len(self._producer)} records not delivered "
                                     f"after {waited:.0f}s", FLUSH_REPORT_S)
        if waited and self.health is not None:
            self.health.cleared()
        self._marks.clear()  # everything sent is reported
        self._raise_errors()

    def _raise_errors(self) -> None:
        with self._lock:
            errors, self._errors = self._errors, []
        if errors:
            raise DeliveryFailed("; ".join(errors[:5]) + (" ..." if len(errors) > 5 else ""))

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(10)
