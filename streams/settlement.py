"""Settlement agents: trades, released remainders and halts into PostgreSQL.

Each batch is one transaction; batches may mix partitions because every effect is
idempotent (see ledger/settlement.py). A transient failure retries the batch; a record
that can never be applied is dead-lettered and the rest go on (streams/resilient.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from ledger import settlement
from ledger.progress import load_positions, store_positions
from schemas.codec import HALT, ORDER_EVENT, TRADE, Codec, DecodeError, encode
from streams import app as ms
from streams.batching import Batcher
from streams.dead_letter import dead_letter
from streams.progress import PositionGuard
from streams.resilient import apply_batch, transaction

MAX_BATCH = 2000


def _send_dead_letter(event, topic_name: str, error: DecodeError) -> None:
    letter = dead_letter(error, ms.settings.topic(topic_name), event.message.partition,
                         event.message.offset, event.key)
    ms.output.send(ms.DEAD_LETTERS, topic_name.encode(), encode(letter))


def _guard(name: str) -> PositionGuard:
    return PositionGuard(name, ms.settings.kafka_bootstrap, lambda keys: transaction(
        f"{name} position", lambda conn: load_positions(conn, name, keys)))


GUARDS = {name: _guard(name) for name in ("settle-trades", "settle-order-events",
                                          "record-halts")}


async def _settle(batch, codec: Codec, topic_name: str, what: str, work, name: str) -> None:
    """Decode, apply in one transaction, dead-letter what cannot be decoded or applied."""
    guard = GUARDS[name]
    events = await guard.admit(batch)
    if not events:
        return
    pairs = []
    for event in events:
        record = codec.decode(event.value)
        if isinstance(record, DecodeError):
            _send_dead_letter(event, topic_name, record)
        else:
            pairs.append((event, record))
    _, poison = await apply_batch(what, pairs, lambda conn, items: work(
        conn, [record for _, record in items]))
    for (event, _), exc in poison:
        _send_dead_letter(event, topic_name, DecodeError(
            f"cannot be applied: {exc}", event.value or b""))
    await ms.output.flush()
    await transaction(f"{name} position", lambda conn: store_positions(
        conn, name, guard.positions(events)))


@ms.app.on_partitions_revoked.connect
async def _on_revoked(app, revoked, **kwargs) -> None:
    lost = {(tp.topic, tp.partition) for tp in revoked}
    for guard in GUARDS.values():
        guard.forget()
    for batcher in BATCHERS.values():
        batcher.drop(lambda e: (e.message.topic, e.message.partition) not in lost)


async def _apply_halts(conn, halts: Sequence) -> None:
    for h in halts:
        await settlement.apply_halt(conn, h.symbol, h.halted, h.ts, h.until_ts)


def _agent(topic, name: str, codec: Codec, topic_name: str, what: str, work,
           max_batch: int = MAX_BATCH):
    async def process(events: list) -> None:
        await _settle(events, codec, topic_name, what, work, name)
        for event in events:
            event.ack()

    batcher = BATCHERS[name] = Batcher(name, process, max_batch)

    async def agent(stream):
        async for event in stream.noack().events():
            await batcher.put(event)

    agent.__name__ = agent.__qualname__ = name.replace("-", "_")
    return ms.app.agent(topic, name=name)(agent)


BATCHERS: dict[str, Batcher] = {}
settle_trades = _agent(ms.trades, "settle-trades", TRADE, "trades", "trade settlement",
                       settlement.settle_trades)
settle_order_events = _agent(ms.order_events, "settle-order-events", ORDER_EVENT,
                             "order-events", "reservation release",
                             settlement.release_remainders)
record_halts = _agent(ms.halts, "record-halts", HALT, "halts", "halt record", _apply_halts,
                      max_batch=100)
