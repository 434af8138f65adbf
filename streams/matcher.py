"""The matcher stage: a Faust agent on `orders`, one book per symbol, trades and events out.

Faust costs ~100-250 us per Kafka record here but ~2 us per order when a record carries a
batch, and each `orders` record is a gate batch of one symbol. The agent queues events;
a task applies everything queued as one batch (streams/runtime/batching.py, streams/
matcher_records.py) and sends the outputs through confluent-kafka (streams/runtime/output.py).

State: the books, in the changelog-backed table `books` (tables/books.py). The checkpoint
(streams/runtime/checkpoint.py) fires every CHECKPOINT_INTERVAL_S or CHECKPOINT_EVERY
commands and on revocation; its table entries are the snapshots of the changed books
that are due (streams/matcher_state.py: about once a book's worth of commands; every
changed book at revocation), then the index of every partition applied or snapshotted
since, which says where to replay the books not snapshotted from. They are captured
under the batch lock and written while the next batches run; one checkpoint is in flight
at a time. The agent iterates a `noack()` stream, so Faust commits only what the
checkpoint acknowledges; at revocation nothing is acknowledged (Faust has already
dropped its acknowledgements of revoked partitions) and the snapshots cover it.

Recovery is Faust's table recovery. The first events of a partition then restore its
books from the table, and the position guard
(streams/runtime/faust_fixes/position_guard.py) starts where MatcherState.replay_from
says: the first offset Faust delivers, unless the partition's index is behind it or a
book is behind the index (a snapshot written late by a matcher the group had moved on
from); the records in between are read back from Kafka and applied, the books skipping
what they have applied; the index's pending offsets (commands applied since a book's
snapshot) take the start back further. A symbol's book is made or restored only from its
home partition: a command of it seen on another one, before or after, is rejected
(streams/matcher_records.py). A partition without an index is read from its start. A
partition quiet for a few seconds while records wait in it past the position (Faust
skipped its last records, so no later one reveals the gap) is read back the same way
(`TailWatch`, same module).
"""

from __future__ import annotations

import asyncio
import logging
import os

from confluent_kafka import KafkaException

from infra import collector
from ledger.db import make_engine
from ledger.retry import call
from ledger.specs import read_spec
from streams.matcher_records import RecordMatcher
from streams.matcher_state import MatcherState
from streams.publish import BOOK, HALTS, ORDER_EVENTS, QUOTES, RESULTS, TRADES
from streams.runtime import app as ms
from streams.runtime.batching import Batcher
from streams.runtime.checkpoint import Checkpoint
from streams.runtime.faust_fixes.position_guard import PositionGuard, TailWatch, fetch_range
from streams.runtime.health import StageHealth
from streams.runtime.output import Output
from streams.runtime.stages import group_id
from tables.books import book_key, books, index_key, partition_entries

log = logging.getLogger("matchstream.matcher")

MAX_BATCH = 500  # records, each a gate batch of one symbol
CHECKPOINT_INTERVAL_S = 1.0
CHECKPOINT_EVERY = 50_000  # commands
OUTPUTS = (TRADES, ORDER_EVENTS, HALTS, BOOK, QUOTES, RESULTS)

settings = ms.settings
health = StageHealth("matcher")
# settlement waits on these: half a millisecond for a batch's records to share requests
output = Output(settings, health, linger_ms=0.5)
state = MatcherState()
matcher = RecordMatcher(state, output, {name: settings.topic(name) for name in OUTPUTS},
                        settings.topic("orders"), settings.topic("dead-letters"), health)
owned: set[int] = set()  # `orders` partitions assigned to this worker
_lock = asyncio.Lock()  # a batch, a capture and a revocation never interleave
_in_flight: asyncio.Task | None = None  # a captured checkpoint being completed
_revocations = 0  # a checkpoint captured before a revocation acknowledges nothing
_db = None


def _database():
    global _db
    if _db is None:
        _db = make_engine(settings.database_url, pool_size=1)
    return _db


def _read_specs(symbols: set[str]) -> dict:
    """Specs of symbols (None: unknown); waits while the database is away, since a book
    is never made without its spec."""
    return call(_database(), lambda conn: {s: read_spec(conn, s) for s in symbols}, health)


async def _restore(first: dict[tuple[str, int], int]) -> dict[tuple[str, int], int]:
    """Books of newly seen partitions from the table; where the guard starts each one."""
    starts = {}
    for (topic, partition), delivered in first.items():
        blobs, index = partition_entries(partition)
        restored = [state.restore(symbol, blob, partition) for symbol, blob in blobs.items()]
        start = 0 if index is None else MatcherState.replay_from(index, restored, delivered)
        log.info("matcher: partition %d: %d books restored, first record delivered %d, "
                 "applying from %d", partition, len(restored), delivered, start)
        starts[(topic, partition)] = start
    return starts


guard = PositionGuard("matcher", settings.kafka_bootstrap, _restore)
tails = TailWatch("matcher", settings.kafka_bootstrap, group_id(settings, "matcher"))


async def _stop_on_failure(work) -> None:
    """A batch or checkpoint that fails stops the stage, and so the worker (a restarted
    agent would go on without the books it lost); the restart recovers from the table."""
    try:
        await work
    except Exception:
        log.exception("matcher: a batch or checkpoint failed; the stage stops")
        logging.shutdown()
        os._exit(1)


async def _process(delivered: list) -> None:
    await _stop_on_failure(_apply(delivered))


async def _apply(delivered: list) -> None:
    async with _lock:
        events = await guard.admit([e for e in delivered if e.message.partition in owned])
        decoded = matcher.decode(events)
        unknown = matcher.unknown_symbols(decoded)
        specs = await asyncio.to_thread(_read_specs, unknown) if unknown else {}
        with collector.paused():  # the batch's events and records live until it ends
            count = matcher.apply(decoded, specs)
            del events, decoded  # freed before the collector resumes, so it has less to scan
            checkpoint.applied([e for e in delivered if e.message.partition in owned], count)
            _checkpoint_if_due()


def _checkpoint_if_due(without_events: bool = False) -> None:
    """Capture now (the caller holds the lock) and complete in the background, unless
    the previous checkpoint is still in flight: the next capture then covers more."""
    global _in_flight
    if (_in_flight is None or _in_flight.done()) and checkpoint.due():
        captured = checkpoint.capture(without_events)
        if captured is not None:
            seen = _revocations
            _in_flight = asyncio.create_task(_stop_on_failure(checkpoint.complete(
                captured, ack=lambda: _revocations == seen)))


def _table_entries(events) -> list:
    """The changed books first, then the partitions' indexes that point at them."""
    snapshots = state.take_dirty_snapshots()
    entries = [(books, book_key(partition, symbol), blob, partition)
               for symbol, partition, blob in snapshots]
    positions = matcher.take_positions(partition for _, partition, _ in snapshots)
    entries += [(books, index_key(partition), state.index(partition, next_offset), partition)
                for partition, next_offset in positions.items()]
    return entries


checkpoint = Checkpoint(output, ms.app, _table_entries, interval_s=CHECKPOINT_INTERVAL_S,
                        every=CHECKPOINT_EVERY, stage="matcher")


batcher = Batcher("matcher", _process, MAX_BATCH)


@ms.app.agent(ms.orders, name="matcher")
async def match(stream):
    async for event in stream.noack().events():
        tails.delivered(((event.message.topic, event.message.partition),))
        await batcher.put(event)


@ms.app.timer(CHECKPOINT_INTERVAL_S / 2)
async def checkpoint_when_idle() -> None:
    """A checkpoint is due though no batch has come to take it (or a snapshot is: a
    book's pending commands would otherwise hold a restore's start back for good)."""
    if checkpoint.pending and checkpoint.due():
        async with _lock:
            _checkpoint_if_due()
    elif state.snapshots_due() and checkpoint.due():
        async with _lock:
            _checkpoint_if_due(without_events=True)


@ms.app.timer(1.0)
async def read_back_tails() -> None:
    """Records Faust holds back at the end of a quiet partition: read them from Kafka."""
    if not tails.due():
        return
    try:
        ranges = await asyncio.to_thread(tails.ranges, dict(guard.expected))
        for (topic, partition), (start, end) in ranges.items():
            events = await asyncio.to_thread(fetch_range, settings.kafka_bootstrap, topic,
                                             partition, start, end)
            await _process(events)
    except (KafkaException, RuntimeError) as exc:  # the broker away: the next check retries
        log.warning("matcher: could not check for undelivered records: %s", exc)
    except Exception:  # the check must not stop matching
        log.exception("matcher: the check for undelivered records failed")


@ms.app.on_partitions_assigned.connect
async def _on_assigned(app, assigned, **kwargs) -> None:
    mine = {tp.partition for tp in assigned if tp.topic == matcher.orders}
    owned.update(mine)
    tails.delivered({(matcher.orders, partition) for partition in mine})
    log.info("matcher: partitions %s assigned", sorted(mine))  # bench/failover.py reads it


@ms.app.on_partitions_revoked.connect
async def _on_revoked(app, revoked, **kwargs) -> None:
    global _revocations
    _revocations += 1
    lost = {tp.partition for tp in revoked if tp.topic == matcher.orders}
    async with _lock:
        try:
            if _in_flight is not None:
                await asyncio.shield(_in_flight)  # its acknowledgements are skipped
            state.expire()  # the new owners restore from snapshots, not replays
            await checkpoint.commit(ack=False, without_events=True)
        except Exception:  # the new owner replays from the last commit: nothing is lost
            log.exception("matcher: checkpoint at revocation failed")
        checkpoint.discard()
        owned.difference_update(lost)
        matcher.forget(lost)
        guard.forget()
        tails.forget(lambda key: key[1] not in lost)
        batcher.drop(lambda e: e.message.partition not in lost)
    log.info("matcher: partitions %s revoked", sorted(lost))
