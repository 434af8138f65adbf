"""Book snapshots per symbol, in a changelog-backed table.

A snapshot is written to the changelog partition of its symbol's `orders` partition,
so a worker that takes over that partition restores exactly the books it now owns.
The matcher writes snapshots from a timer, outside any event, and must know when the
broker has them: `write` sends to the changelog itself and returns the delivery
future (a plain table assignment goes through Faust's buffer, whose flush can return
before the record is sent).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import faust

from streams.app import app

SNAPSHOT_MAX_BYTES = 64 * 1024 * 1024  # a deep book's compressed snapshot


def position_key(partition: int) -> bytes:
    """Key of the matcher's position in an `orders` partition (never a symbol: NUL)."""
    return b"\x00position:%d" % partition


class SnapshotTable(faust.Table):
    def _serializer_from_type(self, typ: Any) -> str:
        # snapshots are already bytes; Faust would otherwise decode them as JSON
        return "raw"

    async def write(self, key: bytes, value: bytes, partition: int) -> Awaitable:
        """Store locally and send to the changelog; await the result for delivery."""
        self.data[key] = value
        return await self.changelog_topic.send(key=key, value=value, partition=partition)


book_snapshots: SnapshotTable = app.tables.add(SnapshotTable(
    app,
    name="book-snapshots",
    key_type=bytes,
    value_type=bytes,
    partitions=4,
    extra_topic_configs={"max.message.bytes": str(SNAPSHOT_MAX_BYTES)},
))
