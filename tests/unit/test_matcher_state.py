"""The matcher's per-symbol state (streams/matcher_state.py): what it has applied from
each `orders` partition."""

from __future__ import annotations

import zlib

import msgspec

from engine import snapshot
from engine.events import Trade
from engine.spec import SymbolSpec
from schemas.records import AcceptedOrder
from streams.matcher_state import MatcherState

SPEC = SymbolSpec("ACME", reference_price=10_000)
T0 = 1_700_000_000_000


def new(order_id, side, quantity, price, account="alice", ts=T0, source=(-1, -1)):
    return AcceptedOrder(order_id=order_id, account=account, symbol="ACME", side=side,
                         order_type="LIMIT", tif="GTC", quantity=quantity, price=price, ts=ts,
                         source_partition=source[0], source_offset=source[1])


def trades(events) -> list[tuple[str, int, int]]:
    return [(e.trade_id, e.price, e.quantity) for e in events or () if type(e) is Trade]


# -- what has been applied, per partition -----------------------------------------------

def test_a_record_on_another_partition_does_not_skip_the_books_own_records():
    state = MatcherState()
    acme = state.create(SPEC, 0)
    assert state.apply(acme, new("s1", "SELL", 10, 10_000), 0, 3)
    # the same symbol on the wrong partition, at a higher offset
    assert state.apply(acme, new("ghost", "BUY", 1, 5_000, account="ghost"), 2, 40)
    events = state.apply(acme, new("b1", "BUY", 10, 10_000, account="bob"), 0, 4)
    assert trades(events) == [("ACME-1", 10_000, 10)]
    assert acme.applied == {0: 4, 2: 40}
    # each partition's replays are still recognised
    assert state.apply(acme, new("b1", "BUY", 10, 10_000, account="bob"), 0, 4) is None
    assert state.apply(acme, new("ghost", "BUY", 1, 5_000, account="ghost"), 2, 40) is None


def test_a_partition_added_to_orders_starts_at_offset_zero():
    state = MatcherState()
    acme = state.create(SPEC, 1)
    for offset in range(50):
        state.apply(acme, new(f"s{offset}", "SELL", 1, 10_000), 1, offset)
    events = state.apply(acme, new("b", "BUY", 2, 10_000, account="bob"), 5, 0)
    assert trades(events) == [("ACME-1", 10_000, 1), ("ACME-2", 10_000, 1)]


def test_a_snapshot_keeps_what_was_applied_from_each_partition():
    state = MatcherState()
    acme = state.create(SPEC, 0)
    state.apply(acme, new("s1", "SELL", 10, 10_000, source=(3, 7)), 0, 3)
    state.apply(acme, new("s2", "SELL", 10, 10_100), 2, 40)
    [(symbol, partition, blob)] = state.take_dirty_snapshots()
    assert (symbol, partition) == ("ACME", 0)

    restored = MatcherState()
    again = restored.restore("ACME", blob, 0)
    assert again.applied == {0: 3, 2: 40}
    assert again.gate_marks == {3: 7}
    assert restored.apply(again, new("s1", "SELL", 10, 10_000, source=(3, 7)), 0, 3) is None
    assert restored.apply(again, new("s2", "SELL", 10, 10_100), 2, 40) is None
    assert trades(restored.apply(again, new("b", "BUY", 10, 10_000, account="bob"), 2, 41)) \
        == [("ACME-1", 10_000, 10)]


def test_an_old_snapshot_applied_offset_is_its_own_partitions():
    book = snapshot.from_dict(snapshot.to_dict(MatcherState().create(SPEC, 1).book))
    old = {"book": snapshot.to_dict(book), "applied_offset": 9, "gate_marks": {"2": 5}}
    blob = zlib.compress(msgspec.json.encode(old), 1)
    state = MatcherState()
    acme = state.restore("ACME", blob, 1)
    assert acme.applied == {1: 9} and acme.gate_marks == {2: 5}
    assert state.apply(acme, new("s1", "SELL", 1, 10_000), 1, 9) is None
    assert state.apply(acme, new("s1", "SELL", 1, 10_000), 1, 10)
    assert state.apply(acme, new("s2", "SELL", 1, 10_000), 0, 0)
