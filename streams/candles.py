"""Candles agent on `matcher-results` (the trades of each matcher batch of a symbol): OHLCV
per symbol for 1m, 5m, 1h and 1d, by trade time.

The arithmetic is engine/candles.py (pure). State lives in a changelog-backed table
keyed by symbol (tables/candles.py): a Faust windowed table would not do here, because
its windows are closed and its late records judged by Faust's own clock and
relative_to machinery over a typed value, while our trades are raw bytes whose
duplicates must be recognised by `seq` (a replay after a crash) — so the tumbling
windows, the grace for late trades and the dedupe are explicit, and the table holds each
symbol's open windows.

Per batch: apply the trades, upsert candles that closed into PostgreSQL, publish every
changed candle on `candles`. Every CHECKPOINT_INTERVAL_S (after a batch, or from a timer
when idle) what was applied is checkpointed (streams/runtime/checkpoint.py): flush, write
the touched symbols' state and the agent's position to the changelog, acknowledge.
A replay after a crash is harmless: trades whose seq a candle already counted are
skipped, the upsert keeps the row with the highest last_seq.

A timer also persists candles whose window has ended by the wall clock (plus grace)
though no later trade has closed them yet (an idle symbol); they stay open, so a late
or replayed trade still lands and the row is updated again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from engine.candles import GRACE_MS, SymbolCandles, public
from ledger.retry import transaction
from schemas.codec import MATCHER_RESULTS, DecodeError
from streams.runtime import app as ms
from streams.runtime.batching import Batcher
from streams.runtime.checkpoint import Checkpoint
from streams.runtime.database import database
from streams.runtime.faust_fixes.position_guard import PositionGuard
from streams.runtime.health import StageHealth
from tables.candles import open_candles, position_key

log = logging.getLogger(__name__)

MAX_BATCH = 500  # records: each holds a symbol's trades of one matcher batch
PERSIST_EVERY_S = 1.0
# a checkpoint is a changelog write and a broker round trip, which cost the stage more
# than its batches' work; a crash replays what came since, idempotently
CHECKPOINT_INTERVAL_S = 1.0
BATCH_PAUSE_S = 0.1

_states: dict[str, SymbolCandles] = {}
_persisted: dict[tuple[str, str, int], int] = {}  # candle -> last_seq already in PostgreSQL

_UPSERT = (
    "INSERT INTO candles (symbol, interval, start_ms, open, high, low, close, volume, trades, "
    "last_seq) VALUES (%(symbol)s, %(interval)s, %(start_ms)s, %(open)s, %(high)s, %(low)s, "
    "%(close)s, %(volume)s, %(trades)s, %(last_seq)s) ON CONFLICT (symbol, interval, start_ms) "
    "DO UPDATE SET "
    "open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close, "
    "volume = excluded.volume, trades = excluded.trades, last_seq = excluded.last_seq "
    "WHERE candles.last_seq < excluded.last_seq")


health = StageHealth("candles")
guard = PositionGuard("candles", ms.settings.kafka_bootstrap, open_candles.load_positions)


_touched: dict[str, int] = {}  # symbol -> partition, of states changed since the checkpoint
# a capture sees whole batches only: a state that counts a batch's trades before its closed
# candles are upserted would let a replay skip them
_lock = asyncio.Lock()


def _table_entries(events) -> list:
    """The touched symbols' open candles, then the agent's position per partition."""
    entries = [(open_candles, symbol.encode(), json.dumps(_states[symbol].state).encode(),
                partition) for symbol, partition in _touched.items()]
    _touched.clear()
    entries += [(open_candles, position_key(partition), str(position).encode(), partition)
                for (_, partition), position in PositionGuard.positions(events).items()]
    return entries


checkpoint = Checkpoint(ms.output, ms.app, _table_entries, interval_s=CHECKPOINT_INTERVAL_S,
                        stage="candles")


def _state(symbol: str) -> SymbolCandles:
    found = _states.get(symbol)
    if found is None:
        raw = open_candles.data.get(symbol.encode())
        found = _states[symbol] = SymbolCandles(symbol, json.loads(raw) if raw else None)
    return found


async def _upsert(candles: list[dict]) -> None:
    if not candles:
        return

    async def work(conn):
        await conn.cursor().executemany(_UPSERT, candles)

    await transaction(database(), work, health)
    for c in candles:
        _persisted[(c["symbol"], c["interval"], c["start_ms"])] = c["last_seq"]


async def _process(delivered: list) -> None:
    async with _lock:
        await _apply(delivered)


async def _apply(delivered: list) -> None:
    events = await guard.admit(delivered)
    touched: dict[str, int] = {}
    changed: dict[tuple[str, str, int], dict] = {}
    closed: list[dict] = []
    for event in events:
        results = MATCHER_RESULTS.decode(event.value)
        if isinstance(results, DecodeError):
            continue  # settlement dead-letters it; nothing to count
        for trade in results.trades:
            state = _state(trade.symbol)
            updated, done = state.apply(trade.price, trade.quantity, trade.seq, trade.ts)
            touched[trade.symbol] = event.message.partition
            for c in updated:
                changed[(c["symbol"], c["interval"], c["start_ms"])] = c
            for c in done:
                closed.append(c)
                changed[(c["symbol"], c["interval"], c["start_ms"])] = c
    closed_keys = {(c["symbol"], c["interval"], c["start_ms"]) for c in closed}
    await _upsert(closed)  # before the state forgets them
    for key, c in changed.items():
        ms.output.send(ms.CANDLES, key[0].encode(), json.dumps(
            public(c, closed=key in closed_keys)).encode())
    _touched.update(touched)
    checkpoint.applied(events)
    if checkpoint.due():
        await checkpoint.commit()
    for key in closed_keys:
        _persisted.pop(key, None)


# candles are derived data: a tenth of a second more for them makes each batch (its
# table writes, its flush, its upsert) cover many more trades
batcher = Batcher("candles", _process, MAX_BATCH, pause_s=BATCH_PAUSE_S)


@ms.app.agent(ms.results, name="candles")
async def build_candles(stream):
    async for event in stream.noack().events():
        await batcher.put(event)


@ms.app.timer(CHECKPOINT_INTERVAL_S / 2)
async def checkpoint_when_idle() -> None:
    """What the last batches applied, once no batch has come to checkpoint it."""
    async with _lock:
        if checkpoint.pending and checkpoint.due():
            await checkpoint.commit()


@ms.app.timer(PERSIST_EVERY_S)
async def persist_ended_candles() -> None:
    """Upsert candles whose window ended (wall clock + grace) but are not closed yet."""
    now = int(time.time() * 1000)
    due = []
    for key, raw in list(open_candles.data.items()):
        if key.startswith(b"\x00"):
            continue
        symbol = key.decode()
        state = _states.get(symbol) or SymbolCandles(symbol, json.loads(raw))
        for c in state.state["open"].values():
            ck = (c["symbol"], c["interval"], c["start_ms"])
            if c["end_ms"] + GRACE_MS <= now and _persisted.get(ck) != c["last_seq"]:
                due.append(dict(c))
    if due:
        await _upsert(due)
        log.info("candles: persisted %d ended candles", len(due))


@ms.app.on_partitions_revoked.connect
async def _on_revoked(app, revoked, **kwargs) -> None:
    lost = {(tp.topic, tp.partition) for tp in revoked}
    async with _lock:
        await checkpoint.commit_at_revocation()
        guard.forget()
        _states.clear()
        _touched.clear()
    batcher.drop(lambda e: (e.message.topic, e.message.partition) not in lost)
