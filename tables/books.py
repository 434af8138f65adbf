"""The matcher's books, in a changelog-backed table (streams/matcher.py).

One entry per book, `<orders partition>/<symbol>`: its compressed snapshot
(streams/matcher_state.py), written to the changelog partition of the `orders` partition
whose records made the book, when it is due. One entry per partition, NUL
`index:<partition>`: where the partition's stored snapshots stand, where each book's
commands since its snapshot start, and the next offset to read, written after the books
at each checkpoint. The partition is in the key so that the in-memory store, one dict
for every partition, never mixes a book of one partition with a copy of it in another.
"""

from __future__ import annotations

from collections.abc import Set

from faust.stores import memory
from faust.types import TP

from streams.runtime.app import app, changelog_config, source_partitions
from tables.raw import RawTable

__all__ = ["books", "book_key", "index_key", "partition_entries"]

MAX_VALUE_BYTES = 64 * 1024 * 1024  # a deep book's snapshot


def book_key(partition: int, symbol: str) -> bytes:
    return b"%d/%s" % (partition, symbol.encode())


def index_key(partition: int) -> bytes:
    return b"\x00index:%d" % partition


def _partition_of(key: bytes) -> int:
    return int(key.rsplit(b":", 1)[1] if key.startswith(b"\x00") else key.split(b"/", 1)[0])


class BooksStore(memory.Store):
    """Faust's in-memory store, keeping what it has read of each changelog partition
    while that partition is active or standby here. Faust's own memory store reports no
    position, so a standby promoted to active reads its partition again from the start;
    this one reports the last offset read, so only the records after it are read."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._read: dict[TP, int] = {}

    def apply_changelog_batch(self, batch, to_key, to_value) -> None:
        batch = list(batch)
        super().apply_changelog_batch(batch, to_key, to_value)
        for event in batch:
            tp, offset = event.message.tp, event.message.offset
            if offset > self._read.get(tp, -1):
                self._read[tp] = offset

    def persisted_offset(self, tp: TP) -> int | None:
        return self._read.get(tp)

    async def on_recovery_completed(self, active_tps: Set[TP], standby_tps: Set[TP]) -> None:
        """Forget the partitions that are neither active nor standby here any more."""
        kept = {tp.partition for tp in (*active_tps, *standby_tps)}
        for tp in [tp for tp in self._read if tp.partition not in kept]:
            del self._read[tp]
        for key in [key for key in self.data if _partition_of(key) not in kept]:
            del self.data[key]
            self._key_partition.pop(key, None)


class BooksTable(RawTable):
    def _new_store_by_url(self, url) -> BooksStore:
        return BooksStore(url, self.app, self, table_name=self.name, key_type=self.key_type,
                          key_serializer=self.key_serializer,
                          value_serializer=self.value_serializer, value_type=self.value_type,
                          loop=self.loop, options=self.options)


books: BooksTable = app.tables.add(BooksTable(
    app,
    name="books",
    key_type=bytes,
    value_type=bytes,
    partitions=source_partitions("orders"),  # changelog partition = input partition
    extra_topic_configs=changelog_config(**{
        "max.message.bytes": str(MAX_VALUE_BYTES),
        # compact soon: a recovery reads what is not compacted yet
        "segment.ms": str(10 * 60_000),
        "min.cleanable.dirty.ratio": "0.1",
    }),
))


def partition_entries(partition: int) -> tuple[dict[str, bytes], bytes | None]:
    """The snapshots (symbol -> blob) and the index of one partition, as the table holds
    them."""
    prefix = b"%d/" % partition
    found = {key[len(prefix):].decode(): blob for key, blob in list(books.data.items())
             if key.startswith(prefix) and blob is not None}
    return found, books.data.get(index_key(partition))
