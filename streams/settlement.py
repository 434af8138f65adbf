"""Settlement agents: trades, released remainders and halts into PostgreSQL.

Each batch is one transaction; batches may mix partitions because every effect is
idempotent (see ledger/settlement.py). A failed batch is retried, never dropped.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import DBAPIError

from ledger import settlement
from schemas.codec import HALT, ORDER_EVENT, TRADE, DecodeError, encode
from streams import app as ms
from streams.database import engine
from streams.dead_letter import dead_letter

log = logging.getLogger(__name__)

MAX_BATCH = 2000
BATCH_WITHIN_S = 0.005


async def _decode_all(events, codec, topic_name: str) -> list:
    good = []
    for event in events:
        record = codec.decode(event.value)
        if isinstance(record, DecodeError):
            letter = dead_letter(record, ms.settings.topic(topic_name), event.message.partition,
                                 event.message.offset, event.key)
            await ms.dead_letters.send(key=topic_name.encode(), value=encode(letter))
        else:
            good.append(record)
    return good


async def _in_transaction(what: str, work) -> None:
    delay = 0.05
    while True:
        try:
            async with engine().begin() as conn:
                await work(conn)
            return
        except (DBAPIError, settlement.SettlementError) as exc:
            log.warning("%s failed, retrying in %.2fs: %s", what, delay, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


@ms.app.agent(ms.trades, name="settle-trades")
async def settle_trades(stream):
    async for events in stream.take_events(MAX_BATCH, within=BATCH_WITHIN_S):
        trades = await _decode_all(events, TRADE, "trades")
        await _in_transaction("trade settlement",
                              lambda conn: settlement.settle_trades(conn, trades))
        await ms.app.producer.flush()


@ms.app.agent(ms.order_events, name="settle-order-events")
async def settle_order_events(stream):
    async for events in stream.take_events(MAX_BATCH, within=BATCH_WITHIN_S):
        records = await _decode_all(events, ORDER_EVENT, "order-events")
        await _in_transaction("reservation release",
                              lambda conn: settlement.release_remainders(conn, records))
        await ms.app.producer.flush()


@ms.app.agent(ms.halts, name="record-halts")
async def record_halts(stream):
    async for events in stream.take_events(100, within=0.01):
        halts = await _decode_all(events, HALT, "halts")

        async def work(conn):
            for h in halts:
                await settlement.apply_halt(conn, h.symbol, h.halted, h.ts, h.until_ts)
        await _in_transaction("halt record", work)
        await ms.app.producer.flush()
