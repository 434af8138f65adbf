"""The matcher's books, in a changelog-backed table (streams/matcher.py).

One entry per book, `<orders partition>/<symbol>`: its compressed snapshot
(streams/matcher_state.py), written to the changelog partition of the `orders` partition
whose records made the book. One entry per partition, NUL `index:<partition>`: where the
partition's books stand and the next offset to read, written after the books at each
checkpoint. The partition is in the key so that the in-memory store, one dict for every
partition, never mixes a book of one partition with a copy of it in another.
"""

from __future__ import annotations

from infra.topics import PARTITIONS
from streams.app import app
from tables.raw import RawTable

__all__ = ["books", "book_key", "index_key", "partition_entries"]

MAX_VALUE_BYTES = 64 * 1024 * 1024  # a deep book's snapshot

books: RawTable = app.tables.add(RawTable(
    app,
    name="books",
    key_type=bytes,
    value_type=bytes,
    partitions=PARTITIONS,  # those of `orders`: changelog partition = input partition
    extra_topic_configs={
        "max.message.bytes": str(MAX_VALUE_BYTES),
        # compact soon: a recovery reads what is not compacted yet
        "segment.ms": str(10 * 60_000),
        "min.cleanable.dirty.ratio": "0.1",
    },
))


def book_key(partition: int, symbol: str) -> bytes:
    return b"%d/%s" % (partition, symbol.encode())


def index_key(partition: int) -> bytes:
    return b"\x00index:%d" % partition


def partition_entries(partition: int) -> tuple[dict[str, bytes], bytes | None]:
    """The snapshots (symbol -> blob) and the index of one partition, as the table holds
    them."""
    prefix = b"%d/" % partition
    found = {key[len(prefix):].decode(): blob for key, blob in list(books.data.items())
             if key.startswith(prefix) and blob is not None}
    return found, books.data.get(index_key(partition))
