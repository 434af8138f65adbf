"""Open candles per symbol, in a changelog-backed table (key: symbol, value: JSON).

The value is engine.candles.SymbolCandles.state: the symbol's watermark and its open
candles for every interval, i.e. the table is keyed by symbol and holds each
(interval, start) window inside. It is written to the changelog partition of the
symbol's `matcher-results` partition, so a worker that takes over that partition restores the
candles it now owns. The agent awaits each write (tables/raw.py), so it acknowledges
trades only once the state that counts them is in Kafka.
"""

from __future__ import annotations

from streams.runtime.app import app, changelog_config, source_partitions
from tables.raw import RawTable, position_key

__all__ = ["open_candles", "position_key"]


open_candles: RawTable = app.tables.add(RawTable(
    app,
    name="open-candles",
    key_type=bytes,
    value_type=bytes,
    partitions=source_partitions("matcher-results"),  # changelog = input partition
    extra_topic_configs=changelog_config(),
))
