"""A stage that reads its topics with a confluent-kafka consumer instead of Faust streams.

For the gate, whose input is the clients' records, one request each: a Faust agent takes
~9,000 such records/s here before any work, a confluent-kafka consumer ~1.2M/s
(`bench.intake`, README "Performance"). The loop takes everything already fetched (up to
`max_batch`), hands each topic's records to its handler as one batch, and commits the
offsets once their effects are durable: the handlers' own (the database) when they
return, their records sent on once `before_commit` returns (the output's flush), so the
next batch does not wait for the broker's acknowledgements of the last. At-least-once
delivery, made exactly-once in effect by the handlers' idempotency (see README
"Processing guarantees"). The commit is asynchronous and goes out at most every
COMMIT_INTERVAL_S while batches keep coming (each commit is a request the broker pays
for), IDLE_S after the last batch when no more come, and before partitions are revoked
or the consumer closes; a commit lost to a crash only replays what was done since.
A batch's fixed costs (a transaction, its records sent on, and the wake-ups of every
stage after it) are paid per batch, so when records come densely the loop waits a few
milliseconds for more before it takes a batch (`gather_s`): sparse ones go at once.

Kafka's committed offsets are reliable here, so the gate needs no position guard.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable

from confluent_kafka import Consumer, KafkaException, TopicPartition

from infra.kafka_client import METADATA_REFRESH
from infra.settings import Settings
from streams.runtime.events import FetchedEvent, FetchedMessage
from streams.runtime.readiness import signal_ready
from streams.runtime.stages import group_id

log = logging.getLogger("matchstream.direct")

Handler = Callable[[list[FetchedEvent]], Awaitable[None]]
POLL_S = 0.5  # how long an idle stage waits for a record (and notices a stop)
IDLE_S = 0.05  # no record for this long after a batch: the stage is idle, it commits
FETCH_WAIT_MS = 500
COMMIT_INTERVAL_S = 0.1
GATHER_MAX_S = 0.004  # the longest a first record waits for others to share its batch
GATHER_RECORDS = 4  # worth waiting for: as many more records as this, at the recent rate
RATE_WINDOW_S = 1.0


def gather_s(rate: float) -> float:
    """How long to wait for more records at `rate` records/s: long enough for about
    GATHER_RECORDS more, never more than GATHER_MAX_S; 0 when that would not bring them."""
    if rate * GATHER_MAX_S < GATHER_RECORDS:
        return 0.0
    return GATHER_RECORDS / rate


class DirectStage:
    def __init__(self, settings: Settings, stage: str, handlers: dict[str, Handler],
                 max_batch: int = 2000, before_commit: Callable[[], None] = lambda: None
                 ) -> None:
        """`before_commit`: blocks until what the handlers sent is on the broker (raises
        if it cannot be); the offsets move only after it returns."""
        self.stage = stage
        self.handlers = {settings.topic(name): h for name, h in handlers.items()}
        self.max_batch = max_batch
        self.before_commit = before_commit
        self.stopping = False
        self.ready = False
        self._done: dict[tuple[str, int], int] = {}  # (topic, partition) -> next offset
        self._committed_at = 0.0
        self._rate = 0.0  # records/s over the last RATE_WINDOW_S
        self._counted, self._counted_since = 0, time.monotonic()
        self.consumer = Consumer({
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": group_id(settings, stage),
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 10_000,
            "heartbeat.interval.ms": 1_000,
            # a fetch returns as soon as a record arrives: the wait only bounds an idle
            # one, a request the broker pays for (at 5 ms: 200 a second)
            "fetch.wait.max.ms": FETCH_WAIT_MS,
            "on_commit": self._committed,
            **METADATA_REFRESH,
        })

    async def run(self) -> None:
        self.consumer.subscribe(list(self.handlers), on_assign=self._on_assign,
                                on_revoke=self._on_revoke)
        try:
            while not self.stopping:
                # nothing else runs on this loop between batches: blocking is fine
                first = self.consumer.poll(IDLE_S if self._done else POLL_S)
                if first is None:
                    self._commit()  # idle: what was done is committed now
                    await asyncio.sleep(0)
                    continue
                messages = [first, *self.consumer.consume(self.max_batch - 1, 0)]
                wait = gather_s(self._rate)
                if wait and len(messages) < self.max_batch:
                    messages += self.consumer.consume(self.max_batch - len(messages), wait)
                self._count(len(messages))
                await self._process(messages)
                if time.monotonic() - self._committed_at >= COMMIT_INTERVAL_S:
                    self._commit()
            self._commit(wait=True)
        finally:
            self.consumer.close()

    async def _process(self, messages: list) -> None:
        by_topic: dict[str, list[FetchedEvent]] = {}
        offsets: dict[tuple[str, int], int] = {}
        for msg in messages:
            if msg.error() is not None:
                log.warning("%s: consumer error: %s", self.stage, msg.error())
                continue
            topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
            by_topic.setdefault(topic, []).append(FetchedEvent(
                msg.key(), msg.value(), FetchedMessage(topic, partition, offset)))
            offsets[(topic, partition)] = offset + 1
        for topic, events in by_topic.items():
            await self.handlers[topic](events)
        self._done.update(offsets)

    def _count(self, records: int) -> None:
        self._counted += records
        now = time.monotonic()
        if now - self._counted_since >= RATE_WINDOW_S:
            self._rate = self._counted / (now - self._counted_since)
            self._counted, self._counted_since = 0, now

    def _commit(self, wait: bool = False) -> None:
        """Commit the offsets of what the handlers have done since the last commit, once
        what they sent is on the broker."""
        if not self._done:
            return
        self.before_commit()
        offsets, self._done = self._done, {}
        self._committed_at = time.monotonic()
        try:
            self.consumer.commit(offsets=[TopicPartition(t, p, o)
                                          for (t, p), o in offsets.items()],
                                 asynchronous=not wait)
        except KafkaException as exc:
            self._committed(exc.args[0] if exc.args else exc, list(offsets))

    def _committed(self, err, partitions) -> None:
        """The outcome of a commit, reported on a later poll."""
        if err is not None:
            # e.g. the group moved on while a batch waited for the database: whoever
            # owns the partitions now replays these records, idempotently
            log.warning("%s: commit failed, %d partitions will be replayed: %s",
                        self.stage, len(partitions), err)

    def _on_revoke(self, consumer, partitions: list[TopicPartition]) -> None:
        self._commit(wait=True)  # before another member starts from the committed offsets

    def _on_assign(self, consumer, partitions: list[TopicPartition]) -> None:
        log.info("%s: assigned %s", self.stage,
                 ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions) or "nothing")
        if not self.ready:
            self.ready = True
            signal_ready(self.stage)

    def stop(self, *_args) -> None:
        self.stopping = True


def serve(stage: DirectStage) -> None:
    """Run a stage until SIGTERM / SIGINT, finishing the batch in hand."""
    logging.basicConfig(level=logging.INFO,
                        format="[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s")
    signal.signal(signal.SIGTERM, stage.stop)
    signal.signal(signal.SIGINT, stage.stop)
    asyncio.run(stage.run())
