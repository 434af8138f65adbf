"""Matcher agent on `orders`: one book per symbol, snapshots in a changelog table.

Input is acknowledged only after the snapshots covering it and every record it
produced have been written (see streams/matcher_state.py for the recovery story).
"""

from __future__ import annotations

import asyncio
import logging

from streams import app as ms
from streams.database import engine
from streams.matcher_state import MatcherState, SymbolState
from streams.publish import BatchPublisher
from ledger.specs import load_spec
from schemas.codec import MATCHER_COMMAND, DecodeError, encode
from streams.batching import Batcher
from streams.dead_letter import dead_letter
from streams.progress import PositionGuard
from tables.books import book_snapshots, position_key

log = logging.getLogger(__name__)

CHECKPOINT_EVERY = 5000  # commands
CHECKPOINT_INTERVAL_S = 1.0  # snapshots cost: every dirty book is serialised whole
MAX_BATCH = 1000

ORDERS = ms.settings.topic("orders")

state = MatcherState()
_owned: set[int] = set()  # `orders` partitions assigned to this worker
_pending: list = []  # events processed but not yet acknowledged
_checkpoint_lock = asyncio.Lock()


guard = PositionGuard("matcher", ms.settings.kafka_bootstrap, book_snapshots.load_positions)


async def _process(delivered: list) -> None:
    events = await guard.admit(delivered)
    # a checkpoint must not see a command applied whose records are not all sent
    async with _checkpoint_lock:
        # a batch taken before a rebalance may hold commands of partitions gone since
        events = [e for e in events if e.message.partition in _owned]
        publisher = BatchPublisher()
        for event in events:
            await _handle(event, publisher)
        for name, key, value in publisher.drain():
            ms.output.send(ms.OUTPUT_TOPICS[name], key, value)
        _pending.extend(events)  # acknowledged by the checkpoint that covers them
    if len(_pending) >= CHECKPOINT_EVERY:
        await checkpoint()


batcher = Batcher("matcher", _process, MAX_BATCH)


@ms.app.agent(ms.orders, name="matcher")
async def matcher(stream):
    async for event in stream.noack().events():
        await batcher.put(event)


async def _handle(event, publisher: BatchPublisher) -> None:
    topic = ORDERS
    message = event.message
    record = MATCHER_COMMAND.decode(event.value)
    problem = record if isinstance(record, DecodeError) else None
    if problem is None:
        symbol_state = await _symbol_state(record.symbol, message.partition)
        if symbol_state is None:
            problem = DecodeError(f"unknown symbol {record.symbol!r}", event.value)
        else:
            try:
                events = state.apply(symbol_state, record, message.offset)
            except ValueError as exc:
                problem = DecodeError(f"not a valid command: {exc}", event.value)
            else:
                if events:
                    publisher.add(symbol_state.book, events)
    if problem is not None:
        letter = dead_letter(problem, topic, message.partition, message.offset, event.key)
        ms.output.send(ms.DEAD_LETTERS, topic.encode(), encode(letter))


async def _symbol_state(symbol: str, partition: int) -> SymbolState | None:
    found = state.get(symbol)
    if found is not None:
        return found
    blob = book_snapshots.get(symbol.encode())
    if blob is not None:
        restored = state.restore(symbol, blob, partition)
        log.info("matcher: restored %s (%d resting orders, applied offset %d)", symbol,
                 len(restored.book), restored.applied_offset)
        return restored
    async with engine().connect() as conn:
        spec = await load_spec(conn, symbol)
    return state.create(spec, partition) if spec is not None else None


@ms.app.timer(CHECKPOINT_INTERVAL_S)
async def periodic_checkpoint() -> None:
    await checkpoint()


async def checkpoint() -> None:
    """Write dirty snapshots, wait until Kafka has everything, then acknowledge the input."""
    async with _checkpoint_lock:
        global _pending
        if not _pending:
            return
        events, _pending = _pending, []
        # every record of these commands first: a snapshot must never cover a lost one
        await ms.output.flush()
        snapshots = state.take_dirty_snapshots()
        deliveries = [await book_snapshots.write(symbol.encode(), blob, partition)
                      for symbol, partition, blob in snapshots]
        for (_, partition), position in PositionGuard.positions(events).items():
            deliveries.append(await book_snapshots.write(
                position_key(partition), str(position).encode(), partition))
        await ms.app.producer.flush()
        for delivery in deliveries:
            await delivery  # acknowledged by the broker: only now may the input be acked
        log.debug("matcher: checkpoint of %d commands, %d snapshots", len(events), len(snapshots))
        for event in events:
            event.ack()


@ms.app.on_partitions_assigned.connect
async def _on_assigned(app, assigned, **kwargs) -> None:
    async with _checkpoint_lock:
        _owned.update(tp.partition for tp in assigned if tp.topic == ORDERS)


@ms.app.on_partitions_revoked.connect
async def _on_revoked(app, revoked, **kwargs) -> None:
    """After a rebalance Faust replays every partition from its committed offset, so
    the books of revoked partitions are dropped and restored from their snapshots."""
    lost = {tp.partition for tp in revoked if tp.topic == ORDERS}
    guard.forget()
    async with _checkpoint_lock:  # not while a batch is half applied
        _owned.difference_update(lost)
        if lost:
            state.forget_partitions(lost)
            _pending[:] = [e for e in _pending if e.message.partition not in lost]
            batcher.drop(lambda event: event.message.partition not in lost)
