"""Book snapshots per symbol, in a changelog-backed table.

A snapshot is written to the changelog partition of its symbol's `orders` partition,
so a worker that takes over that partition restores exactly the books it now owns.
The matcher writes snapshots from a timer, outside any event, so the partition comes
from what the matcher recorded for the symbol rather than from the current event.
"""

from __future__ import annotations

from typing import Any

import faust

from streams.app import app

SNAPSHOT_MAX_BYTES = 64 * 1024 * 1024  # a deep book's compressed snapshot


class SnapshotTable(faust.Table):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.partition_of: dict[bytes, int] = {}

    def _serializer_from_type(self, typ: Any) -> str:
        # snapshots are already bytes; Faust would otherwise decode them as JSON
        return "raw"

    def partition_for_key(self, key: Any) -> int | None:
        partition = self.partition_of.get(key)
        return partition if partition is not None else super().partition_for_key(key)


book_snapshots: SnapshotTable = app.tables.add(SnapshotTable(
    app,
    name="book-snapshots",
    key_type=bytes,
    value_type=bytes,
    partitions=4,
    extra_topic_configs={"max.message.bytes": str(SNAPSHOT_MAX_BYTES)},
))
