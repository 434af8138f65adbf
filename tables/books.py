"""Book snapshots per symbol, in a changelog-backed table.

A snapshot is written to the changelog partition of its symbol's `orders` partition,
so a worker that takes over that partition restores exactly the books it now owns.
The matcher writes snapshots from a timer and awaits their delivery (tables/raw.py).
"""

from __future__ import annotations

from streams.app import app
from tables.raw import RawTable, position_key

__all__ = ["book_snapshots", "position_key"]

SNAPSHOT_MAX_BYTES = 64 * 1024 * 1024  # a deep book's compressed snapshot


book_snapshots: RawTable = app.tables.add(RawTable(
    app,
    name="book-snapshots",
    key_type=bytes,
    value_type=bytes,
    partitions=4,
    extra_topic_configs={"max.message.bytes": str(SNAPSHOT_MAX_BYTES)},
))
