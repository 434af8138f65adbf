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
from streams.dead_letter import dead_letter
from streams.progress import PositionGuard
from streams.resilient import apply_batch, transaction

MAX_BATCH = 2000
BATCH_WITHIN_S = 0.005


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
    for guard in GUARDS.values():
        guard.forget()


async def _apply_halts(conn, halts: Sequence) -> None:
    for h in halts:
        await settlement.apply_halt(conn, h.symbol, h.halted, h.ts, h.until_ts)


@ms.app.agent(ms.trades, name="settle-trades")
async def settle_trades(stream):
    async for events in stream.take_events(MAX_BATCH, within=BATCH_WITHIN_S):
        await _settle(events, TRADE, "trades", "trade settlement", settlement.settle_trades,
                      "settle-trades")


@ms.app.agent(ms.order_events, name="settle-order-events")
async def settle_order_events(stream):
    async for events in stream.take_events(MAX_BATCH, within=BATCH_WITHIN_S):
        await _settle(events, ORDER_EVENT, "order-events", "reservation release",
                      settlement.release_remainders, "settle-order-events")


@ms.app.agent(ms.halts, name="record-halts")
async def record_halts(stream):
    async for events in stream.take_events(100, within=0.01):
        await _settle(events, HALT, "halts", "halt record", _apply_halts, "record-halts")
