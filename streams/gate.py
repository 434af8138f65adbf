"""Gate agent on order-requests: one database transaction per batch, then send on."""

from __future__ import annotations

import time

from schemas.codec import DecodeError, encode
from streams import app as ms
from streams.batching import Batcher, partitions_of
from streams.dead_letter import dead_letter
from ledger.progress import load_positions, store_positions
from streams.gate_logic import GateOutput, RawRecord, process_batch
from streams.progress import PositionGuard
from streams.resilient import apply_batch, transaction

MAX_BATCH = 1000

TOPIC = ms.settings.topic("order-requests")

guard = PositionGuard("gate", ms.settings.kafka_bootstrap, lambda keys: transaction(
    "gate position", lambda conn: load_positions(conn, "gate", keys)))


async def _process(delivered: list) -> None:
    events = await guard.admit(delivered)
    records = [RawRecord(e.key, e.value, e.message.partition, e.message.offset)
               for e in events]
    now_ms = int(time.time() * 1000)
    outputs, poison = await apply_batch(
        "gate", records, lambda conn, batch: process_batch(conn, TOPIC, batch, now_ms))
    for out in outputs:
        _send(out, TOPIC)
    for record, exc in poison:
        letter = dead_letter(DecodeError(f"cannot be applied: {exc}", record.value or b""),
                             TOPIC, record.partition, record.offset, record.key)
        ms.output.send(ms.DEAD_LETTERS, TOPIC.encode(), encode(letter))
    # deliver the outputs before the position moves and the input is acknowledged
    await ms.output.flush()
    await transaction("gate position", lambda conn: store_positions(
        conn, "gate", guard.positions(events)))
    for event in events:
        event.ack()


batcher = Batcher("gate", _process, MAX_BATCH)


@ms.app.agent(ms.order_requests, name="gate")
async def gate(stream):
    async for event in stream.noack().events():
        await batcher.put(event)


@ms.app.on_partitions_revoked.connect
async def _on_revoked(app, revoked, **kwargs) -> None:
    guard.forget()
    lost = partitions_of(revoked, TOPIC)
    batcher.drop(lambda event: event.message.partition not in lost)


def _send(out: GateOutput, topic: str) -> None:
    for key, value in out.orders:
        ms.output.send(ms.ORDERS, key, value)
    for key, value in out.events:
        ms.output.send(ms.ORDER_EVENTS, key, value)
    for value in out.dead_letters:
        ms.output.send(ms.DEAD_LETTERS, topic.encode(), value)
