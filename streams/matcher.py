"""The matcher stage: `orders` in, one book per symbol, trades and events out.

This stage reads its input with confluent-kafka rather than a Faust stream: measured on
this project's 2-core machine, a Faust agent that only counts its events gets ~3,900
events/s, a confluent-kafka consumer ~740,000/s (bench/README.md), and the matcher is
the one stage whose work per event is a few microseconds. Its state is what a Faust
table would keep, kept the same way: a compacted changelog topic (`book-snapshots`)
written to the partition of the `orders` partition it covers and read back when the
partition is assigned.

Recovery story (at-least-once delivery, exactly-once effect), see streams/matcher_state.py:
every CHECKPOINT_INTERVAL_S the outputs are flushed, then the snapshots of the books
changed since the last checkpoint are written and flushed, then the input offsets are
committed. A restart restores the snapshots and replays from the committed offset;
commands a snapshot already holds are skipped, the others produce the same events with
the same ids again, which consumers treat idempotently.
"""

from __future__ import annotations

import logging
import signal
import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from infra.settings import Settings
from ledger.db import make_engine
from ledger.retry import call
from ledger.specs import read_spec
from schemas.codec import ORDER_BATCH, DecodeError, encode
from streams.dead_letter import dead_letter
from streams.health import StageHealth
from streams.matcher_state import INDEX_KEY, MatcherState, RebuildError, SymbolState
from streams.output import Output
from streams.publish import BOOK, HALTS, ORDER_EVENTS, QUOTES, RESULTS, TRADES, BatchPublisher
from streams.readiness import signal_ready
from streams.stages import group_id

log = logging.getLogger("matchstream.matcher")

MAX_BATCH = 5000
CHECKPOINT_INTERVAL_S = 1.0
CHECKPOINT_EVERY = 50_000  # commands
POLL_S = 0.1
RESTORE_TIMEOUT_S = 60.0
OUTPUTS = (TRADES, ORDER_EVENTS, HALTS, BOOK, QUOTES, RESULTS)


class Matcher:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.orders = settings.topic("orders")
        self.snapshots = settings.topic("book-snapshots")
        self.dead_letters = settings.topic("dead-letters")
        self.topics = {name: settings.topic(name) for name in OUTPUTS}
        self.health = StageHealth("matcher")
        self.output = Output(settings, self.health)
        self.state = MatcherState()
        self.engine = make_engine(settings.database_url, pool_size=1)
        self.owned: set[int] = set()  # `orders` partitions assigned to this process
        self.positions: dict[int, int] = {}  # partition -> next offset, once one is applied
        self.applied_since_checkpoint = 0
        self.last_checkpoint = time.monotonic()
        self.stopping = False
        self.ready = False
        self.consumer = Consumer({
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": group_id(settings, "matcher"),
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 10_000,
            "heartbeat.interval.ms": 1_000,
            "fetch.wait.max.ms": 5,
            "max.poll.interval.ms": 300_000,
        })

    # -- the loop
    def run(self) -> None:
        self.consumer.subscribe([self.orders], on_assign=self._on_assign,
                                on_revoke=self._on_revoke, on_lost=self._on_lost)
        try:
            while not self.stopping:
                first = self.consumer.poll(POLL_S)
                if first is not None:
                    # everything already fetched, without waiting for more
                    batch = [first, *self.consumer.consume(MAX_BATCH - 1, 0)]
                    self._apply(batch)
                if (self.applied_since_checkpoint >= CHECKPOINT_EVERY
                        or time.monotonic() - self.last_checkpoint >= CHECKPOINT_INTERVAL_S):
                    self.checkpoint()
            self.checkpoint()
        finally:
            self.consumer.close()
            self.engine.dispose()

    def stop(self, *_args) -> None:
        self.stopping = True

    def _apply(self, messages: list) -> None:
        publisher = BatchPublisher()
        for msg in messages:
            error = msg.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("matcher: consumer error: %s", error)
                continue
            partition, offset = msg.partition(), msg.offset()
            if partition not in self.owned:
                continue  # a record of a partition revoked since it was fetched
            self.applied_since_checkpoint += self._handle(msg, partition, offset, publisher)
            self.positions[partition] = offset + 1
        for name, key, value in publisher.drain():
            self.output.send(self.topics[name], key, value)

    def _handle(self, msg, partition: int, offset: int, publisher: BatchPublisher) -> int:
        """Apply one `orders` record (a gate batch of one symbol); how many commands it held."""
        value = msg.value()
        batch = ORDER_BATCH.decode(value)
        if isinstance(batch, DecodeError):
            self._dead_letter(batch, partition, offset, msg.key())
            return 1
        symbol_state = self._symbol_state(batch.symbol, partition)
        if symbol_state is None:
            self._dead_letter(DecodeError(f"unknown symbol {batch.symbol!r}", value), partition,
                              offset, msg.key())
        elif self.state.claim(symbol_state, partition, offset):
            for index, command in enumerate(batch.commands):
                try:
                    events = self.state.apply(symbol_state, command)
                except RebuildError:
                    raise  # the book is lost: a restart restores it from its snapshot
                except Exception as exc:  # the book is what it was before the command
                    publisher.rebind(symbol_state.book)  # which may be a rebuilt copy
                    if not isinstance(exc, ValueError):
                        log.exception("matcher: command %d of %s[%d]@%d broke the engine",
                                      index, self.orders, partition, offset)
                    self._dead_letter(DecodeError(
                        f"command {index} of the record cannot be applied: {exc!r}",
                        encode(command)), partition, offset, msg.key())
                else:
                    if events:
                        publisher.add(symbol_state.book, events)
        return len(batch.commands)

    def _dead_letter(self, problem: DecodeError, partition: int, offset: int,
                     key: bytes | None) -> None:
        letter = dead_letter(problem, self.orders, partition, offset, key)
        self.output.send(self.dead_letters, self.orders.encode(), encode(letter))
        self.health.dead_lettered(self.orders)

    def _symbol_state(self, symbol: str, partition: int) -> SymbolState | None:
        found = self.state.get(symbol)
        if found is not None:
            return found
        # waits while the database is away: a book is never made without its spec
        spec = call(self.engine, lambda conn: read_spec(conn, symbol), self.health)
        return self.state.create(spec, partition) if spec is not None else None

    # -- checkpoints
    def checkpoint(self) -> None:
        """Outputs, then the snapshots covering them, then the input offsets."""
        self.last_checkpoint = time.monotonic()
        if not self.applied_since_checkpoint:
            return
        self.output.flush_now()  # a snapshot must never cover a record not delivered
        snapshots = self.state.take_dirty_snapshots()
        for symbol, partition, blob in snapshots:
            self.output.send(self.snapshots, symbol.encode(), blob, partition)
        for partition, next_offset in self.positions.items():  # after the books
            self.output.send(self.snapshots, INDEX_KEY,
                             self.state.index(partition, next_offset), partition)
        self.output.flush_now()
        offsets = [TopicPartition(self.orders, p, o) for p, o in self.positions.items()]
        if offsets:
            try:
                self.consumer.commit(offsets=offsets, asynchronous=False)
            except KafkaException as exc:  # the snapshots cover them: a replay skips them
                log.warning("matcher: commit failed, the new owner replays: %s", exc)
        log.debug("matcher: checkpoint of %d commands, %d snapshots",
                  self.applied_since_checkpoint, len(snapshots))
        self.applied_since_checkpoint = 0

    # -- rebalances
    def _on_assign(self, consumer, partitions: list[TopicPartition]) -> None:
        committed = consumer.committed(partitions, timeout=RESTORE_TIMEOUT_S) if partitions else []
        for tp in committed:
            books, index = self._restore(tp.partition)
            self.owned.add(tp.partition)
            start = MatcherState.replay_from(tp.partition, index, books, tp.offset)
            if start < tp.offset:
                log.warning("matcher: partition %d: a snapshot is behind the committed offset "
                            "%d: replaying from %d", tp.partition, tp.offset, start)
                tp.offset = start
            log.info("matcher: partition %d assigned: %d books restored, input from offset %s",
                     tp.partition, len(books), tp.offset if tp.offset >= 0 else "the start")
        if committed:
            consumer.assign(committed)  # from these offsets
        if not self.ready:
            self.ready = True
            signal_ready("matcher")

    def _on_revoke(self, consumer, partitions: list[TopicPartition]) -> None:
        try:
            self.checkpoint()
        except Exception:  # the new owner replays from the last commit: nothing is lost
            log.exception("matcher: checkpoint at revocation failed")
        self._forget(partitions)

    def _on_lost(self, consumer, partitions: list[TopicPartition]) -> None:
        """The group moved on without us (e.g. we were frozen past the session timeout):
        another matcher owns these books now, so nothing of ours is written for them."""
        self._forget(partitions)

    def _forget(self, partitions: list[TopicPartition]) -> None:
        lost = {tp.partition for tp in partitions}
        self.state.forget_partitions(lost)
        self.owned -= lost
        for partition in lost:
            self.positions.pop(partition, None)
        log.info("matcher: partitions %s revoked", sorted(lost))

    def _restore(self, partition: int) -> tuple[list[SymbolState], bytes | None]:
        """The latest snapshot of every book of this partition, and the partition's index."""
        reader = Consumer({"bootstrap.servers": self.settings.kafka_bootstrap,
                           "group.id": f"restore-{uuid.uuid4()}", "enable.auto.commit": False})
        try:
            low, high = reader.get_watermark_offsets(
                TopicPartition(self.snapshots, partition), timeout=RESTORE_TIMEOUT_S)
            latest: dict[bytes, bytes | None] = {}
            if high > low:
                reader.assign([TopicPartition(self.snapshots, partition, OFFSET_BEGINNING)])
                deadline = time.monotonic() + RESTORE_TIMEOUT_S
                done = False
                while not done:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{self.snapshots}[{partition}]: snapshots up to "
                                           f"offset {high} not read in {RESTORE_TIMEOUT_S:.0f}s")
                    for msg in reader.consume(1000, 1.0):
                        if msg.error() is not None:
                            continue
                        latest[msg.key()] = msg.value()
                        if msg.offset() >= high - 1:
                            done = True
        finally:
            reader.close()
        index = latest.pop(INDEX_KEY, None)
        return [self.state.restore(key.decode(), blob, partition)
                for key, blob in latest.items() if blob is not None], index


def main(settings: Settings) -> None:
    logging.basicConfig(level=logging.INFO,
                        format="[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s")
    matcher = Matcher(settings)
    signal.signal(signal.SIGTERM, matcher.stop)
    signal.signal(signal.SIGINT, matcher.stop)
    log.info("matcher: consuming %s as group %s", matcher.orders, group_id(settings, "matcher"))
    matcher.run()
