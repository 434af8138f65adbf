"""Settlement stage: trades, released remainders and halts into PostgreSQL.

Reads with confluent-kafka (streams/direct.py); offsets are committed once a batch is
applied.

Each batch is one transaction; batches may mix partitions because every effect is
idempotent (see ledger/settlement.py). A database fault pauses the stage until it
passes (streams/resilient.py). What cannot be decoded is dead-lettered. A release or a
halt proven unprocessable on its own is dead-lettered too; a trade never is: one that
cannot settle stops settlement, which alarms until it is fixed or an operator skips it.
"""

from __future__ import annotations

from infra.settings import Settings
from ledger import settlement
from schemas.codec import HALT, ORDER_EVENT, TRADE, Codec, DecodeError, encode
from streams.database import database
from streams.dead_letter import dead_letter
from streams.direct import DirectStage, serve
from streams.health import StageHealth
from streams.output import Output
from streams.resilient import BatchPolicy

MAX_BATCH = 2000


class Settlement:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dead_letters = settings.topic("dead-letters")
        self.health = StageHealth("settlement")
        self.output = Output(settings, self.health)
        self.policy = BatchPolicy("settlement", database(), self.health)

    def _dead_letter(self, event, topic_name: str, error: DecodeError) -> None:
        topic = self.settings.topic(topic_name)
        letter = dead_letter(error, topic, event.message.partition, event.message.offset,
                             event.key)
        self.output.send(self.dead_letters, topic_name.encode(), encode(letter))
        self.health.dead_lettered(topic)

    async def _settle(self, events: list, codec: Codec, topic_name: str, work,
                      may_drop: bool = True) -> None:
        """Decode, apply in one transaction, dead-letter what may be and proved poison."""
        pairs = []
        for event in events:
            record = codec.decode(event.value)
            if isinstance(record, DecodeError):
                self._dead_letter(event, topic_name, record)
            else:
                pairs.append((event, record))
        topic = self.settings.topic(topic_name)
        _, poison = await self.policy.apply(
            pairs, lambda conn, items: work(conn, [record for _, record in items]),
            where=lambda pair: (topic, pair[0].message.partition, pair[0].message.offset),
            may_drop=may_drop)
        for (event, _), exc in poison:
            self._dead_letter(event, topic_name, DecodeError(
                f"cannot be applied: {exc}", event.value or b""))
        await self.output.flush()  # before the offsets move on

    async def trades(self, events: list) -> None:
        await self._settle(events, TRADE, "trades", settlement.settle_trades, may_drop=False)

    async def order_events(self, events: list) -> None:
        await self._settle(events, ORDER_EVENT, "order-events", settlement.release_remainders)

    async def halts(self, events: list) -> None:
        await self._settle(events, HALT, "halts", settlement.apply_halts)


def main(settings: Settings) -> None:
    stage = Settlement(settings)
    serve(DirectStage(settings, "settlement", {"trades": stage.trades,
                                               "order-events": stage.order_events,
                                               "halts": stage.halts}, MAX_BATCH))
