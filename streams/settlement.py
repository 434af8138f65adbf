"""Settlement stage: a Faust agent on `matcher-results` that settles into PostgreSQL.

Each record is one symbol's results of one matcher batch (trades, releases of cancelled
or rejected remainders, halts). The agent queues records (streams/runtime/batching.py: batches
grow with the backlog); each batch is one transaction, trades first, then releases,
then halts. Every effect is idempotent (ledger/settlement.py), so a replay is harmless.

Per batch: the records Faust skipped are read back first (the position guard,
streams/runtime/faust_fixes/position_guard.py), then the batch is applied. Every
CHECKPOINT_INTERVAL_S (after a batch, or from a timer when idle) what was applied is
checkpointed (streams/runtime/checkpoint.py): dead letters delivered, the position per
partition written to the table, the records acknowledged. A crash replays what was
applied since, idempotently.

A database fault pauses the stage until it passes (streams/runtime/resilient.py). What cannot be
decoded is dead-lettered. A record without trades that is proven unprocessable on its
own is dead-lettered too; one with trades never is: a trade that cannot settle stops
settlement, which alarms until it is fixed or an operator skips it.
"""

from __future__ import annotations

from collections.abc import Sequence

from infra import collector
from ledger import settlement
from schemas.codec import MATCHER_RESULTS, DecodeError
from schemas.records import MatcherResults
from streams.runtime import app as ms
from streams.runtime.batching import Batcher
from streams.runtime.checkpoint import Checkpoint
from streams.runtime.database import database
from streams.runtime.dead_letter import DeadLetters
from streams.runtime.faust_fixes.position_guard import PositionGuard
from streams.runtime.health import StageHealth
from streams.runtime.resilient import BatchPolicy
from tables.raw import position_key
from tables.settlement import settlement_positions

MAX_BATCH = 500  # records: each holds a symbol's share of a matcher batch
# a checkpoint is a changelog write and a broker round trip, which at low rates cost more
# than the batches' transactions; a crash replays what came since, idempotently
CHECKPOINT_INTERVAL_S = 1.0

TOPIC = ms.settings.topic("matcher-results")
health = StageHealth("settlement")
dead_letters = DeadLetters(ms.output, ms.settings.topic("dead-letters"), health)
policy = BatchPolicy("settlement", database(), health)
guard = PositionGuard("settlement", ms.settings.kafka_bootstrap,
                      settlement_positions.load_positions)


def _positions(events) -> list:
    return [(settlement_positions, position_key(partition), str(position).encode(), partition)
            for (_, partition), position in PositionGuard.positions(events).items()]


checkpoint = Checkpoint(ms.output, ms.app, _positions, interval_s=CHECKPOINT_INTERVAL_S,
                        stage="settlement")


async def settle(conn, results: Sequence[MatcherResults]) -> None:
    """One transaction's work: every trade, then every release, then every halt."""
    await settlement.settle(conn, [t for r in results for t in r.trades],
                            [e for r in results for e in r.releases])
    await settlement.apply_halts(conn, [h for r in results for h in r.halts])


async def _process(delivered: list) -> None:
    events = await guard.admit(delivered)
    pairs = []
    with collector.paused():  # a batch's records decoded at once
        decoded = [(event, MATCHER_RESULTS.decode(event.value)) for event in events]
    for event, record in decoded:
        if isinstance(record, DecodeError):
            dead_letters.send(record, TOPIC, event.message.partition, event.message.offset,
                              event.key)
        else:
            pairs.append((event, record))
    _, poison = await policy.apply(
        pairs, lambda conn, items: settle(conn, [record for _, record in items]),
        where=lambda pair: (TOPIC, pair[0].message.partition, pair[0].message.offset),
        may_drop=lambda pair: not pair[1].trades)
    for (event, _), exc in poison:
        dead_letters.refused(exc, TOPIC, event.message.partition, event.message.offset,
                             event.key, event.value)
    checkpoint.applied(events)
    if checkpoint.due():
        await checkpoint.commit()


batcher = Batcher("settlement", _process, MAX_BATCH)


@ms.app.agent(ms.results, name="settlement")
async def settle_results(stream):
    async for event in stream.noack().events():
        await batcher.put(event)


@ms.app.timer(CHECKPOINT_INTERVAL_S / 2)
async def checkpoint_when_idle() -> None:
    """What the last batches applied, once no batch has come to checkpoint it."""
    if checkpoint.pending and checkpoint.due():
        await checkpoint.commit()


@ms.app.on_partitions_revoked.connect
async def _on_revoked(app, revoked, **kwargs) -> None:
    lost = {(tp.topic, tp.partition) for tp in revoked}
    await checkpoint.commit_at_revocation()
    guard.forget()
    batcher.drop(lambda e: (e.message.topic, e.message.partition) not in lost)
