"""Open candles per symbol, in a changelog-backed table (key: symbol, value: JSON).

The value is engine.candles.SymbolCandles.state: the symbol's watermark and its open
candles for every interval, i.e. the table is keyed by symbol and holds each
(interval, start) window inside. It is written to the changelog partition of the
symbol's `trades` partition, so a worker that takes over that partition restores the
candles it now owns. Like tables/books.py, `write` sends to the changelog itself and
returns the delivery future, so the agent acknowledges trades only once the state
that counts them is in Kafka. Keys starting with NUL hold the agent's position per
partition (streams/progress.py).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import faust

from streams.app import app


def position_key(partition: int) -> bytes:
    return b"\x00position:%d" % partition


class CandleTable(faust.Table):
    def _serializer_from_type(self, typ: Any) -> str:
        return "raw"  # values are JSON bytes made by the agent

    async def write(self, key: bytes, value: bytes | None, partition: int) -> Awaitable:
        if value is None:
            self.data.pop(key, None)
        else:
            self.data[key] = value
        return await self.changelog_topic.send(key=key, value=value, partition=partition)


open_candles: CandleTable = app.tables.add(CandleTable(
    app,
    name="open-candles",
    key_type=bytes,
    value_type=bytes,
    partitions=4,
))
