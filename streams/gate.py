"""Gate agent on order-requests: one database transaction per batch, then send on."""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy.exc import DBAPIError

from streams import app as ms
from streams.database import engine
from streams.gate_logic import RawRecord, process_batch

log = logging.getLogger(__name__)

MAX_BATCH = 500
BATCH_WITHIN_S = 0.002


@ms.app.agent(ms.order_requests, name="gate")
async def gate(stream):
    topic = ms.settings.topic("order-requests")
    async for events in stream.take_events(MAX_BATCH, within=BATCH_WITHIN_S):
        records = [RawRecord(e.key, e.value, e.message.partition, e.message.offset)
                   for e in events]
        out = await _with_retry(topic, records)
        for key, value in out.orders:
            await ms.orders.send(key=key, value=value)
        for key, value in out.events:
            await ms.order_events.send(key=key, value=value)
        for value in out.dead_letters:
            await ms.dead_letters.send(key=topic.encode(), value=value)


async def _with_retry(topic: str, records: list[RawRecord]):
    """A database outage or deadlock retries the batch; it never drops it."""
    delay = 0.05
    while True:
        try:
            async with engine().begin() as conn:
                return await process_batch(conn, topic, records, int(time.time() * 1000))
        except DBAPIError as exc:
            log.warning("gate batch failed, retrying in %.2fs: %s", delay, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
