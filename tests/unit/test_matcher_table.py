"""The matcher's books table (tables/books.py) and where a partition is applied from after
a recovery (streams/matcher.py `_restore` with the position guard,
streams/runtime/faust_fixes/position_guard.py).
No Kafka: the table's store is filled by hand, records read back are stubs."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from faust.types import TP

from engine.spec import SymbolSpec
from schemas.records import AcceptedOrder
from streams import matcher
from streams.matcher_state import MatcherState
from streams.runtime.events import FetchedEvent, FetchedMessage
from streams.runtime.faust_fixes import position_guard
from streams.runtime.faust_fixes.position_guard import PositionGuard
from tables.books import BooksStore, book_key, books, index_key, partition_entries

ORDERS = matcher.matcher.orders
T0 = 1_700_000_000_000


def order(order_id: str, price: int) -> AcceptedOrder:
    return AcceptedOrder(order_id=order_id, account="alice", symbol="ACME", side="SELL",
                         order_type="LIMIT", tif="GTC", quantity=1, price=price, ts=T0)


def snapshot_at(partition: int, offsets: list[int]) -> tuple[bytes, bytes]:
    """ACME's snapshot after one command at each of `offsets`, and its partition's index."""
    state = MatcherState()
    acme = state.create(SymbolSpec("ACME", reference_price=10_000, home_partition=partition))
    for offset in offsets:
        assert state.claim(acme, offset)
        state.apply(acme, order(f"s{offset}", 10_000 + offset))
    [(_, _, blob)] = state.take_dirty_snapshots(every=True)
    return blob, state.index(partition, offsets[-1] + 1)


@pytest.fixture
def table():
    books.data.data.clear()
    matcher.state.symbols.clear()
    yield books.data.data
    books.data.data.clear()
    matcher.state.symbols.clear()


def start(first: int, partition: int = 0) -> int:
    return asyncio.run(matcher._restore({(ORDERS, partition): first}))[(ORDERS, partition)]


def test_a_partition_without_an_index_is_applied_from_its_start(table):
    assert start(first=40) == 0


def test_an_up_to_date_partition_starts_at_the_first_record_delivered(table):
    blob, index = snapshot_at(0, [3, 9])
    table[book_key(0, "ACME")], table[index_key(0)] = blob, index
    assert start(first=10) == 10
    assert matcher.state.get("ACME").applied == 9


def test_a_book_behind_the_index_is_replayed_from_where_it_stops(table):
    stale, _ = snapshot_at(0, [3])
    _, index = snapshot_at(0, [3, 9])  # written after a newer ACME than the table holds
    table[book_key(0, "ACME")], table[index_key(0)] = stale, index
    assert start(first=10) == 4


def test_commands_after_a_books_snapshot_are_replayed_though_committed(table):
    state = MatcherState()
    acme = state.create(SymbolSpec("ACME", reference_price=10_000))
    for offset in (3, 9):
        state.claim(acme, offset)
        state.apply(acme, order(f"s{offset}", 10_000 + offset))
    [(_, _, blob)] = state.take_dirty_snapshots(every=True)
    state.claim(acme, 12)  # applied, committed, not in a snapshot yet
    state.apply(acme, order("s12", 10_012))
    table[book_key(0, "ACME")], table[index_key(0)] = blob, state.index(0, 13)
    assert start(first=13) == 12


def test_an_index_behind_the_first_record_delivered_is_replayed_from(table):
    blob, index = snapshot_at(0, [3, 9])
    table[book_key(0, "ACME")], table[index_key(0)] = blob, index
    assert start(first=25) == 10


def test_books_of_other_partitions_are_not_restored(table):
    blob, index = snapshot_at(2, [3])
    table[book_key(2, "ACME")], table[index_key(2)] = blob, index
    assert partition_entries(0) == ({}, None)
    assert start(first=0, partition=0) == 0
    assert matcher.state.get("ACME") is None


def stub(partition: int, offset: int) -> FetchedEvent:
    return FetchedEvent(b"ACME", b"%d" % offset, FetchedMessage(ORDERS, partition, offset))


def test_the_guard_reads_back_from_where_the_restore_says(monkeypatch):
    asked = {}

    async def load(first):
        asked.update(first)
        return {key: 4 for key in first}

    def fetch(bootstrap, topic, partition, begin, end):
        return [stub(partition, offset) for offset in range(begin, end)]

    monkeypatch.setattr(position_guard, "fetch_range", fetch)
    guard = PositionGuard("matcher", "unused", load)
    admitted = asyncio.run(guard.admit([stub(0, 7), stub(0, 8)]))
    assert asked == {(ORDERS, 0): 7}
    assert [e.message.offset for e in admitted] == [4, 5, 6, 7, 8]


def test_a_partition_without_a_stored_position_is_read_from_its_start(monkeypatch):
    """Faust can start a partition nothing was committed for past records no stage applied;
    a guard with no position for it reads them back from the partition's start."""
    async def load(first):
        return {}

    def fetch(bootstrap, topic, partition, begin, end):
        return [stub(partition, offset) for offset in range(begin, end)]

    monkeypatch.setattr(position_guard, "fetch_range", fetch)
    guard = PositionGuard("settlement", "unused", load)
    admitted = asyncio.run(guard.admit([stub(0, 3), stub(0, 4)]))
    assert [e.message.offset for e in admitted] == [0, 1, 2, 3, 4]
    # from then on it expects the next offset
    assert [e.message.offset for e in asyncio.run(guard.admit([stub(0, 5)]))] == [5]


def changelog(partition: int, offset: int, key: bytes, value: bytes):
    tp = TP("books-changelog", partition)
    return SimpleNamespace(key=key, value=value, message=SimpleNamespace(
        tp=tp, partition=partition, offset=offset, value=value))


def test_the_store_keeps_what_a_standby_read_until_the_partition_leaves():
    store = BooksStore.__new__(BooksStore)
    store.__post_init__()
    store.apply_changelog_batch([changelog(1, 5, book_key(1, "ACME"), b"a"),
                                 changelog(1, 6, index_key(1), b"i"),
                                 changelog(2, 3, book_key(2, "BETA"), b"b")],
                                to_key=lambda k: k, to_value=lambda v: v)
    tp1, tp2 = TP("books-changelog", 1), TP("books-changelog", 2)
    # a promoted standby reads on from here, not from the start
    assert (store.persisted_offset(tp1), store.persisted_offset(tp2)) == (6, 3)

    asyncio.run(store.on_recovery_completed(active_tps={tp1}, standby_tps=set()))
    assert store.persisted_offset(tp2) is None
    assert set(store.data) == {book_key(1, "ACME"), index_key(1)}
    assert store.persisted_offset(tp1) == 6
