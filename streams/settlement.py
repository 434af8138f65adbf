"""Settlement stage: the matcher's results into PostgreSQL (trades, released remainders,
halts).

Reads `matcher-results` with confluent-kafka (streams/direct.py): one record per symbol
per matcher batch. Each batch of records is one transaction, trades first, then the
releases, then the halts; offsets are committed once it is applied. Every effect is
idempotent (see ledger/settlement.py), so a replay is harmless.

A database fault pauses the stage until it passes (streams/resilient.py). What cannot be
decoded is dead-lettered. A record without trades that is proven unprocessable on its
own is dead-lettered too; one with trades never is: a trade that cannot settle stops
settlement, which alarms until it is fixed or an operator skips it.
"""

from __future__ import annotations

from collections.abc import Sequence

from infra.settings import Settings
from ledger import settlement
from schemas.codec import MATCHER_RESULTS, DecodeError, encode
from schemas.records import MatcherResults
from streams.database import engine
from streams.dead_letter import dead_letter
from streams.direct import DirectStage, serve
from streams.health import StageHealth
from streams.output import Output
from streams.resilient import BatchPolicy

MAX_BATCH = 500  # records: each holds a symbol's share of a matcher batch


class Settlement:
    def __init__(self, settings: Settings) -> None:
        self.topic = settings.topic("matcher-results")
        self.dead_letters = settings.topic("dead-letters")
        self.health = StageHealth("settlement")
        self.output = Output(settings, self.health)
        self.policy = BatchPolicy("settlement", engine(), self.health)

    async def process(self, events: list) -> None:
        pairs = []
        for event in events:
            record = MATCHER_RESULTS.decode(event.value)
            if isinstance(record, DecodeError):
                self._dead_letter(event, record)
            else:
                pairs.append((event, record))
        _, poison = await self.policy.apply(
            pairs, lambda conn, items: settle(conn, [record for _, record in items]),
            where=lambda pair: (self.topic, pair[0].message.partition, pair[0].message.offset),
            may_drop=lambda pair: not pair[1].trades)
        for (event, _), exc in poison:
            self._dead_letter(event, DecodeError(f"cannot be applied: {exc}", event.value or b""))
        await self.output.flush()  # before the offsets move on

    def _dead_letter(self, event, error: DecodeError) -> None:
        letter = dead_letter(error, self.topic, event.message.partition, event.message.offset,
                             event.key)
        self.output.send(self.dead_letters, self.topic.encode(), encode(letter))
        self.health.dead_lettered(self.topic)


async def settle(conn, results: Sequence[MatcherResults]) -> None:
    """One transaction's work: every trade, then every release, then every halt."""
    await settlement.settle_trades(conn, [t for r in results for t in r.trades])
    await settlement.release_remainders(conn, [e for r in results for e in r.releases])
    for halt in (h for r in results for h in r.halts):
        await settlement.apply_halt(conn, halt.symbol, halt.halted, halt.ts, halt.until_ts)


def main(settings: Settings) -> None:
    stage = Settlement(settings)
    serve(DirectStage(settings, "settlement", {"matcher-results": stage.process}, MAX_BATCH))
