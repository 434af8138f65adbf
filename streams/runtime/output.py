"""The stages' output records, produced with aiokafka a batch at a time.

`send` appends a record to a list and returns. A task on the event loop takes everything
appended since its last round, builds one record batch per partition (aiokafka's
BatchBuilder, in C) and hands the batches to the producer, which puts every partition
bound for a broker in one ProduceRequest and keeps one request in flight per broker:
what is sent meanwhile goes in the next one. librdkafka sends a request per partition
(librdkafka#1700), so a matcher batch touching 20 partitions cost the broker 20 requests
(`bench.produce_requests`).

Before acknowledging its input a stage waits with `mark()` and `delivered(mark)`: until
the broker has every record sent up to the mark, not those sent after it (the matcher
goes on sending while a checkpoint completes), or DeliveryFailed. `flush()` waits for
everything sent so far.

Nothing is timed out locally. The producer is idempotent, so it retries a batch until
the broker takes it, and a batch waiting for a partition's leader is given no expiry
(aiokafka would otherwise fail it after request_timeout_ms). While the broker is away the
wait is reported to the stage's health every FLUSH_REPORT_S.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections import deque

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError

from infra.kafka_client import partition_for
from infra.settings import Settings
from streams.runtime.health import StageHealth

log = logging.getLogger(__name__)

FLUSH_REPORT_S = 5.0
RETRY_S = 1.0
RETRY_BACKOFF_S = 0.1  # aiokafka's retry_backoff_ms
# Below the topics' max.message.bytes (1 MiB by default): a batch is one broker record
# batch. A larger record still goes, alone in its batch (matcher-results allows 64 MiB).
BATCH_BYTES = 512 * 1024
KEY_CACHE = 100_000

Mark = int  # the number of records sent before it


class DeliveryFailed(RuntimeError):
    """The broker refused a record for good; its input must not be acknowledged."""


class Output:
    def __init__(self, settings: Settings, health: StageHealth | None = None) -> None:
        self._settings = settings
        self.health = health
        self._queue: list[tuple[str, bytes | None, bytes | None, int | None]] = []
        self._sent = 0  # records sent, ever
        self._taken = 0  # of them, handed to the producer
        # (number of the first record, [(topic, partition, delivery)]) per round, oldest first
        self._rounds: deque[tuple[int, list]] = deque()
        self._errors: list[str] = []
        self._broken: BaseException | None = None  # the sending task died
        self._partitions: dict[str, int] = {}  # topic -> partition count
        self._by_key: dict[tuple[str, bytes], int] = {}
        self._task: asyncio.Task | None = None
        self._client: AIOKafkaProducer | None = None
        self._wakeup: asyncio.Event | None = None
        self._taken_more: asyncio.Future | None = None  # set at each round
        self._was_blocked = False

    def send(self, topic: str, key: bytes | None, value: bytes | None,
             partition: int | None = None) -> None:
        """Queue one record for the topic's full name; partition by key (murmur2, as the
        Java client and Faust) unless given. Call on the event loop the stage runs on."""
        self._queue.append((topic, key, value, partition))
        self._sent += 1
        if self._task is None:
            self._start()
        self._wakeup.set()

    def mark(self) -> Mark:
        """The records sent so far; those sent from now on are after the mark."""
        return self._sent

    async def flush(self) -> None:
        """Until the broker has every record sent so far; raises DeliveryFailed."""
        await self.delivered(self._sent)

    async def delivered(self, upto: Mark) -> None:
        """Until the broker has every record sent before `upto`; raises DeliveryFailed."""
        waited_since = time.monotonic()
        reported = False
        while (waits := self._waits(upto)):
            done, _ = await asyncio.wait(waits, timeout=FLUSH_REPORT_S,
                                         return_when=asyncio.FIRST_COMPLETED)
            if not done and self.health is not None:
                reported = True
                self.health.blocked("broker", f"records not delivered after "
                                    f"{time.monotonic() - waited_since:.0f}s", FLUSH_REPORT_S)
        if reported and self.health is not None:
            self.health.cleared()
        self._raise_errors()

    async def close(self, timeout_s: float = 10.0) -> None:
        """Deliver what is sent (for up to `timeout_s`), then stop the producer."""
        if self._task is None:
            return
        try:
            await asyncio.wait_for(self.flush(), timeout_s)
        finally:
            self._task.cancel()
            if self._client is not None:
                await self._client.stop()
            self._task = self._client = None

    def _waits(self, upto: Mark) -> list:
        """What to wait on before every record sent before `upto` is delivered: nothing
        once they are."""
        while self._rounds and all(d.done() for _, _, d in self._rounds[0][1]):
            for topic, partition, delivery in self._rounds.popleft()[1]:
                error = "cancelled" if delivery.cancelled() else delivery.exception()
                if error is not None:
                    self._errors.append(f"{topic}[{partition}]: {error!r}")
        if self._broken is not None:
            return []
        waits = [d for first, sent in self._rounds if first < upto
                 for _, _, d in sent if not d.done()]
        if not waits and self._taken < upto:
            waits = [self._taken_more]  # still queued here
        return waits

    def _raise_errors(self) -> None:
        errors, self._errors = self._errors, []
        if self._broken is not None:
            errors.append(f"the sending task stopped: {self._broken!r}")
        if errors:
            raise DeliveryFailed("; ".join(errors[:5]) + (" ..." if len(errors) > 5 else ""))

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        self._taken_more = loop.create_future()
        self._task = loop.create_task(self._send_rounds(), name="output")

    async def _send_rounds(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            producer = await self._producer()
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                while self._queue:
                    records, self._queue = self._queue, []
                    first = self._taken
                    self._rounds.append((first, await self._submit(producer, records)))
                    self._taken = first + len(records)
                    taken, self._taken_more = self._taken_more, loop.create_future()
                    taken.set_result(None)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # every wait now fails: the stage must not ack
            log.exception("output: the sending task stopped")
            self._broken = exc
            if not self._taken_more.done():
                self._taken_more.set_result(None)

    async def _producer(self) -> AIOKafkaProducer:
        """A started producer; waits, visibly, while the broker is away."""
        waited_since = time.monotonic()
        while True:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._settings.kafka_bootstrap, enable_idempotence=True,
                max_batch_size=BATCH_BYTES, max_request_size=64 * 1024 * 1024)
            try:
                await producer.start()
            except KafkaConnectionError as exc:
                await producer.stop()
                self._blocked(f"cannot connect ({exc})", waited_since)
                await asyncio.sleep(RETRY_S)
                continue
            self._cleared()
            _pace_metadata_updates(producer.client, RETRY_BACKOFF_S)
            self._client = producer
            # a batch waiting for a partition's leader would otherwise fail after
            # request_timeout_ms (aiokafka 0.14 MessageAccumulator; tested)
            producer._message_accumulator._batch_ttl = math.inf
            return producer

    async def _submit(self, producer: AIOKafkaProducer, records: list) -> list:
        """One batch per partition to the producer; each one's delivery."""
        builders: dict[tuple[str, int], object] = {}
        sent = []
        for topic, key, value, partition in records:
            if partition is None:
                partition = await self._partition(producer, topic, key)
            builder = builders.get((topic, partition))
            if builder is None:
                builder = builders[(topic, partition)] = producer.create_batch()
            if builder.append(timestamp=None, key=key, value=value) is None:  # full
                sent.append(await self._send_batch(producer, builder, topic, partition))
                builder = builders[(topic, partition)] = producer.create_batch()
                builder.append(timestamp=None, key=key, value=value)
        for (topic, partition), builder in builders.items():
            sent.append(await self._send_batch(producer, builder, topic, partition))
        return sent

    async def _send_batch(self, producer, builder, topic: str, partition: int) -> tuple:
        waited_since = time.monotonic()
        while True:
            try:  # waits while the partition's previous batch is not yet in a request
                delivery = await producer.send_batch(builder, topic, partition=partition)
                self._cleared()
                return topic, partition, delivery
            except KafkaTimeoutError:  # not queued: the broker is away, try again
                self._blocked(f"{topic}[{partition}] not accepted", waited_since)

    async def _partition(self, producer, topic: str, key: bytes | None) -> int:
        count = self._partitions.get(topic)
        waited_since = time.monotonic()
        while count is None:
            try:
                count = self._partitions[topic] = len(await producer.partitions_for(topic))
                self._cleared()
            except KafkaTimeoutError:  # no metadata: the broker is away
                self._blocked(f"no metadata for {topic}", waited_since)
        if key is None:
            return random.randrange(count)
        partition = self._by_key.get((topic, key))
        if partition is None:
            if len(self._by_key) >= KEY_CACHE:
                self._by_key.clear()
            partition = self._by_key[(topic, key)] = partition_for(key, count)
        return partition

    def _blocked(self, what: str, since: float) -> None:
        self._was_blocked = True
        detail = f"{what} after {time.monotonic() - since:.0f}s"
        if self.health is not None:
            self.health.blocked("broker", detail, RETRY_S)  # logs it
        else:
            log.warning("output: %s; retrying", detail)

    def _cleared(self) -> None:
        if self._was_blocked:
            self._was_blocked = False
            if self.health is not None:
                self.health.cleared()


def _pace_metadata_updates(client, every_s: float) -> None:
    """At most one metadata update per `every_s`. aiokafka's sender asks for one on every
    turn while a partition has no leader, and while the broker is down each fails at
    once: a busy loop, ~100k failed connects (each logged) in a broker restart."""
    update = client.force_metadata_update
    last = -math.inf

    def paced() -> asyncio.Future:
        nonlocal last
        now = time.monotonic()
        if now - last >= every_s:
            last = now
            return update()
        later = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(
            every_s - (now - last), lambda: later.done() or later.set_result(False))
        return later

    client.force_metadata_update = paced
