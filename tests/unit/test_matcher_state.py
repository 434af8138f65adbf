"""The matcher's per-symbol state (streams/matcher_state.py): what it has applied from
its home partition of `orders`, and a command that raises inside the engine. A command
off the home partition never reaches a book: tests/unit/test_matcher_home_partition.py."""

from __future__ import annotations

import zlib

import lz4.frame
import msgspec
import pytest

from engine import snapshot
from engine.breaker import Breaker
from engine.events import Trade
from engine.spec import SymbolSpec
from schemas.records import AcceptedCancel, AcceptedOrder
from streams.matcher_state import MatcherState, to_command

SPEC = SymbolSpec("ACME", reference_price=10_000)
T0 = 1_700_000_000_000


def new(order_id, side, quantity, price, account="alice", ts=T0, source=(-1, -1)):
    return AcceptedOrder(order_id=order_id, account=account, symbol="ACME", side=side,
                         order_type="LIMIT", tif="GTC", quantity=quantity, price=price, ts=ts,
                         source_partition=source[0], source_offset=source[1])


def at(state: MatcherState, book, record, offset: int):
    """A record of one command at `offset` of the book's partition: its events, None if
    applied before."""
    return state.apply(book, record) if state.claim(book, offset) else None


def trades(events) -> list[tuple[str, int, int]]:
    return [(e.trade_id, e.price, e.quantity) for e in events or () if type(e) is Trade]


# -- what has been applied ----------------------------------------------------------------

def test_a_snapshot_keeps_the_offset_applied_and_the_gate_marks():
    state = MatcherState()
    acme = state.create(SPEC)
    at(state, acme, new("s1", "SELL", 10, 10_000, source=(3, 7)), 3)
    at(state, acme, new("s2", "SELL", 10, 10_100), 40)
    [(symbol, partition, blob)] = state.take_dirty_snapshots(every=True)
    assert (symbol, partition) == ("ACME", 0)

    restored = MatcherState()
    again = restored.restore("ACME", blob, 0)
    assert again.applied == 40 and again.gate_marks == {3: 7}
    assert at(restored, again, new("s1", "SELL", 10, 10_000, source=(3, 7)), 41) is None
    assert at(restored, again, new("s2", "SELL", 10, 10_100), 40) is None
    assert trades(at(restored, again, new("b", "BUY", 10, 10_000, account="bob"), 42)) \
        == [("ACME-1", 10_000, 10)]


def test_a_book_is_made_in_its_home_partition():
    state = MatcherState()
    assert state.create(SymbolSpec("ACME", reference_price=10_000, home_partition=3)) \
        .partition == 3


def test_an_old_snapshot_with_one_offset_restores():
    book = snapshot.from_dict(snapshot.to_dict(MatcherState().create(SPEC).book))
    old = {"book": snapshot.to_dict(book), "applied_offset": 9, "gate_marks": {"2": 5}}
    blob = zlib.compress(msgspec.json.encode(old), 1)
    state = MatcherState()
    acme = state.restore("ACME", blob, 1)
    assert acme.applied == 9 and acme.gate_marks == {2: 5}
    assert at(state, acme, new("s1", "SELL", 1, 10_000), 9) is None
    assert at(state, acme, new("s1", "SELL", 1, 10_000), 10)


@pytest.mark.parametrize("keys", [int, str], ids=["msgpack", "json"])
def test_an_old_snapshot_with_offsets_of_several_partitions_restores_its_own(keys):
    """Written when a book took commands from several partitions: only its own partition's
    offset still means something (the others' commands are in the book already)."""
    book = snapshot.to_dict(MatcherState().create(SPEC).book)
    old = {"book": book, "applied": {keys(1): 9, keys(2): 40}, "gate_marks": {},
           "applied_offset": 9}
    blob = (lz4.frame.compress(msgspec.msgpack.encode(old)) if keys is int
            else zlib.compress(msgspec.json.encode(old), 1))
    state = MatcherState()
    acme = state.restore("ACME", blob, 1)
    assert acme.applied == 9 and acme.saved == 9
    assert at(state, acme, new("s1", "SELL", 1, 10_000), 9) is None
    assert at(state, acme, new("s1", "SELL", 1, 10_000), 10)
    assert state.restore("ACME", blob, 3).applied == -1  # no offset of its own: from the start


def test_a_blob_in_neither_snapshot_format_is_refused_by_name():
    written = MatcherState()
    written.create(SPEC).dirty = True
    blob = written.take_dirty_snapshots(every=True)[0][2]
    uncompressed = msgspec.msgpack.encode({"book": {}, "applied_offset": -1, "gate_marks": {}})
    for bad in (uncompressed, blob[4:], b""):
        with pytest.raises(ValueError, match="not a book snapshot"):
            MatcherState().restore("ACME", bad, 0)
    assert MatcherState().restore("ACME", blob, 0).book.spec == SPEC


# -- a command that raises inside the engine --------------------------------------------

class Poison(RuntimeError):
    pass


def poison_second_level(monkeypatch):
    """The breaker raises on the second price level an order trades through: by then the
    first level has traded (orders, counters, events): a half-applied command."""
    real = Breaker.record
    calls = []

    def record(self, ts, price):
        calls.append(price)
        if len(calls) == 2:
            raise Poison("the engine broke half way")
        real(self, ts, price)

    monkeypatch.setattr(Breaker, "record", record)


def feed(state, acme, start=0, tag=""):
    """Three ask levels, a trade, a cancel: the book has counters, breaker history, levels."""
    records = [new(f"{tag}s1", "SELL", 5, 10_000), new(f"{tag}s2", "SELL", 5, 10_050),
               new(f"{tag}s3", "SELL", 5, 10_100),
               new(f"{tag}b1", "BUY", 2, 10_000, account="bob"),
               new(f"{tag}s4", "SELL", 1, 10_200),
               AcceptedCancel(order_id=f"{tag}s4", account="alice", symbol="ACME", ts=T0)]
    for offset, record in enumerate(records, start):
        at(state, acme, record, offset)


@pytest.mark.parametrize("checkpointed", [False, True], ids=["fresh book", "after snapshot"])
def test_a_command_that_raises_leaves_the_book_exactly_as_before(monkeypatch, checkpointed):
    state = MatcherState()
    acme = state.create(SPEC)
    feed(state, acme)
    if checkpointed:
        state.take_dirty_snapshots(every=True)
        feed(state, acme, start=10, tag="x")  # more since the snapshot
    before = snapshot.to_dict(acme.book)
    reference = snapshot.from_dict(before, emit_levels=True)

    poison_second_level(monkeypatch)
    sweep = new("sweep", "BUY", 12, 10_100, account="carol", source=(1, 99))
    with pytest.raises(Poison):
        at(state, acme, sweep, 50)
    monkeypatch.undo()

    assert snapshot.to_dict(acme.book) == before
    assert acme.applied == 50 and acme.dirty
    assert at(state, acme, sweep, 50) is None  # a replay of it is skipped
    # and the book goes on as if the command had never come
    good = new("b2", "BUY", 4, 10_050, account="dave")
    assert at(state, acme, good, 51) == reference.apply(to_command(good))
    assert snapshot.to_dict(acme.book) == snapshot.to_dict(reference)


def test_a_second_poison_rebuilds_past_the_first(monkeypatch):
    state = MatcherState()
    acme = state.create(SPEC)
    feed(state, acme)
    poison_second_level(monkeypatch)
    with pytest.raises(Poison):
        at(state, acme, new("p1", "BUY", 12, 10_100, account="carol"), 50)
    monkeypatch.undo()
    at(state, acme, new("b2", "BUY", 1, 10_050, account="dave"), 51)
    before = snapshot.to_dict(acme.book)
    poison_second_level(monkeypatch)
    with pytest.raises(Poison):
        at(state, acme, new("p2", "BUY", 12, 10_100, account="carol"), 52)
    monkeypatch.undo()
    assert snapshot.to_dict(acme.book) == before
    assert acme.applied == 52


# -- where a restore reads `orders` from -----------------------------------------------

def _checkpointed(state: MatcherState, next_offset: int):
    """The books' snapshots and the partition's index, as a checkpoint writes them."""
    blobs = {symbol: blob for symbol, _, blob in state.take_dirty_snapshots(every=True)}
    return blobs, state.index(0, next_offset)


def _two_books() -> MatcherState:
    state = MatcherState()
    acme, bolt = state.create(SPEC), state.create(SymbolSpec("BOLT", reference_price=5_000))
    bolt_order = AcceptedOrder(order_id="b0", account="alice", symbol="BOLT", side="SELL",
                               order_type="LIMIT", tif="GTC", quantity=1, price=5_000, ts=T0)
    at(state, bolt, bolt_order, 2)  # BOLT is idle from here on
    at(state, acme, new("a0", "SELL", 1, 10_000), 7)
    return state


def test_an_idle_book_does_not_make_a_restore_replay():
    blobs, index = _checkpointed(_two_books(), 8)
    restored = MatcherState()
    books = [restored.restore(symbol, blob, 0) for symbol, blob in blobs.items()]
    assert MatcherState.replay_from(index, books, committed=8) == 8


def test_a_book_snapshot_behind_the_index_is_replayed_from_where_it_stops():
    state = _two_books()
    stale, _ = _checkpointed(state, 8)  # ACME at 7
    acme = state.get("ACME")
    at(state, acme, new("a1", "SELL", 1, 10_000), 12)
    fresh, index = _checkpointed(state, 13)  # ACME at 12, BOLT still at 2
    restored = MatcherState()
    books = [restored.restore(symbol, stale[symbol], 0) for symbol in ("ACME", "BOLT")]
    assert MatcherState.replay_from(index, books, committed=13) == 8
    assert fresh.keys() == {"ACME"}


def test_an_index_behind_the_committed_offset_is_replayed_from():
    blobs, index = _checkpointed(_two_books(), 8)
    books = [MatcherState().restore(symbol, blob, 0) for symbol, blob in blobs.items()]
    assert MatcherState.replay_from(index, books, committed=30) == 8
    assert MatcherState.replay_from(None, books, committed=30) == 30  # no index yet


# -- when a book is snapshotted ---------------------------------------------------------

def test_a_book_is_snapshotted_once_it_has_applied_its_snapshots_worth_of_commands(monkeypatch):
    monkeypatch.setattr("streams.matcher_state.SNAPSHOT_MIN_COMMANDS", 3)
    state = MatcherState()
    acme = state.create(SPEC)
    for offset in range(5):  # five resting orders, five commands
        at(state, acme, new(f"s{offset}", "SELL", 1, 10_000 + offset), offset)
    assert state.take_dirty_snapshots(every=True)
    for offset in range(5, 9):  # four commands since a snapshot of five orders: not yet
        at(state, acme, new(f"b{offset}", "BUY", 1, 9_000), offset)
    assert not state.snapshots_due() and state.take_dirty_snapshots() == []
    at(state, acme, new("b9", "BUY", 1, 9_000), 9)
    assert state.snapshots_due()
    [(symbol, partition, blob)] = state.take_dirty_snapshots()
    assert (symbol, partition) == ("ACME", 0)
    assert MatcherState().restore("ACME", blob, 0).applied == 9
    assert not acme.dirty and acme.since == [] and acme.unsaved_from is None


def test_a_changed_book_is_snapshotted_once_its_snapshot_is_old(monkeypatch):
    state = MatcherState()
    acme = state.create(SPEC)
    at(state, acme, new("s1", "SELL", 1, 10_000), 0)
    assert state.take_dirty_snapshots() == []
    acme.saved_at -= 10.0  # SNAPSHOT_MAX_AGE_S
    assert [symbol for symbol, _, _ in state.take_dirty_snapshots()] == ["ACME"]
    acme.saved_at -= 10.0
    assert state.take_dirty_snapshots() == []  # unchanged since: nothing to write


def test_expire_makes_every_changed_book_due_once():
    state = _two_books()
    state.expire()
    assert {symbol for symbol, _, _ in state.take_dirty_snapshots()} == {"ACME", "BOLT"}
    at(state, state.get("ACME"), new("a1", "SELL", 1, 10_000), 9)
    assert state.take_dirty_snapshots() == []


def test_commands_past_a_books_snapshot_are_replayed_though_committed():
    """The committed offset passes commands no snapshot holds yet: the index's pending
    offsets take the restore back to them, and the replay leaves the book as it was."""
    state = _two_books()
    blobs, _ = _checkpointed(state, 8)  # ACME at 7, BOLT at 2, both stored
    acme = state.get("ACME")
    at(state, acme, new("a1", "SELL", 1, 10_000), 11)
    at(state, acme, new("b1", "BUY", 1, 10_000, account="bob"), 12)
    assert state.take_dirty_snapshots() == []  # not due: only the index is written
    index = state.index(0, 13)
    restored = MatcherState()
    books = [restored.restore(symbol, blob, 0) for symbol, blob in blobs.items()]
    assert MatcherState.replay_from(index, books, committed=13) == 11
    assert msgspec.json.decode(index)["next"] == 11  # what a reader of `next` alone uses
    again = restored.get("ACME")
    assert at(restored, again, new("a0", "SELL", 1, 10_000), 7) is None
    at(restored, again, new("a1", "SELL", 1, 10_000), 11)
    assert trades(at(restored, again, new("b1", "BUY", 1, 10_000, account="bob"), 12)) \
        == [("ACME-1", 10_000, 1)]
    assert snapshot.to_dict(again.book) == snapshot.to_dict(acme.book)


def test_a_book_never_snapshotted_is_replayed_from_its_first_command():
    state = MatcherState()
    acme = state.create(SPEC)
    at(state, acme, new("s1", "SELL", 1, 10_000), 20)
    assert state.take_dirty_snapshots() == []
    index = state.index(0, 21)
    assert MatcherState.replay_from(index, [], committed=21) == 20
