"""Settlement stage: trades, released remainders and halts into PostgreSQL.

Reads with confluent-kafka (streams/direct.py); offsets are committed once a batch is
applied.

Each batch is one transaction; batches may mix partitions because every effect is
idempotent (see ledger/settlement.py). A transient failure retries the batch; a record
that can never be applied is dead-lettered and the rest go on (streams/resilient.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from infra.settings import Settings
from ledger import settlement
from schemas.codec import HALT, ORDER_EVENT, TRADE, Codec, DecodeError, encode
from streams.dead_letter import dead_letter
from streams.direct import DirectStage, serve
from streams.output import Output
from streams.resilient import apply_batch

MAX_BATCH = 2000


class Settlement:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dead_letters = settings.topic("dead-letters")
        self.output = Output(settings)

    def _dead_letter(self, event, topic_name: str, error: DecodeError) -> None:
        letter = dead_letter(error, self.settings.topic(topic_name), event.message.partition,
                             event.message.offset, event.key)
        self.output.send(self.dead_letters, topic_name.encode(), encode(letter))

    async def _settle(self, events: list, codec: Codec, topic_name: str, what: str,
                      work) -> None:
        """Decode, apply in one transaction, dead-letter what cannot be decoded or applied."""
        pairs = []
        for event in events:
            record = codec.decode(event.value)
            if isinstance(record, DecodeError):
                self._dead_letter(event, topic_name, record)
            else:
                pairs.append((event, record))
        _, poison = await apply_batch(what, pairs, lambda conn, items: work(
            conn, [record for _, record in items]))
        for (event, _), exc in poison:
            self._dead_letter(event, topic_name, DecodeError(
                f"cannot be applied: {exc}", event.value or b""))
        await self.output.flush()  # before the offsets move on

    async def trades(self, events: list) -> None:
        await self._settle(events, TRADE, "trades", "trade settlement", settlement.settle_trades)

    async def order_events(self, events: list) -> None:
        await self._settle(events, ORDER_EVENT, "order-events", "reservation release",
                           settlement.release_remainders)

    async def halts(self, events: list) -> None:
        await self._settle(events, HALT, "halts", "halt record", _apply_halts)


async def _apply_halts(conn, halts: Sequence) -> None:
    for h in halts:
        await settlement.apply_halt(conn, h.symbol, h.halted, h.ts, h.until_ts)


def main(settings: Settings) -> None:
    stage = Settlement(settings)
    serve(DirectStage(settings, "settlement", {"trades": stage.trades,
                                               "order-events": stage.order_events,
                                               "halts": stage.halts}, MAX_BATCH))
