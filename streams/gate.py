"""Gate agent on order-requests: one database transaction per batch, then send on."""

from __future__ import annotations

import time

from schemas.codec import DecodeError, encode
from streams import app as ms
from streams.dead_letter import dead_letter
from streams.gate_logic import GateOutput, RawRecord, process_batch
from streams.resilient import apply_batch

MAX_BATCH = 500
BATCH_WITHIN_S = 0.002


@ms.app.agent(ms.order_requests, name="gate")
async def gate(stream):
    topic = ms.settings.topic("order-requests")
    async for events in stream.take_events(MAX_BATCH, within=BATCH_WITHIN_S):
        records = [RawRecord(e.key, e.value, e.message.partition, e.message.offset)
                   for e in events]
        now_ms = int(time.time() * 1000)
        outputs, poison = await apply_batch(
            "gate", records, lambda conn, batch: process_batch(conn, topic, batch, now_ms))
        for out in outputs:
            await _send(out, topic)
        for record, exc in poison:
            letter = dead_letter(DecodeError(f"cannot be applied: {exc}", record.value or b""),
                                 topic, record.partition, record.offset, record.key)
            await ms.dead_letters.send(key=topic.encode(), value=encode(letter))
        # the batch is acknowledged when this body returns: deliver its outputs first
        await ms.app.producer.flush()


async def _send(out: GateOutput, topic: str) -> None:
    for key, value in out.orders:
        await ms.orders.send(key=key, value=value)
    for key, value in out.events:
        await ms.order_events.send(key=key, value=value)
    for value in out.dead_letters:
        await ms.dead_letters.send(key=topic.encode(), value=value)
