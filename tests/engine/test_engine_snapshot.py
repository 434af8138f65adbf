"""Snapshot -> restore -> continue equals an uninterrupted run; replay determinism."""
from __future__ import annotations

import json

import pytest
from engine_flows import SYMBOL, random_flow

from engine import snapshot
from engine.book import Book
from engine.spec import SymbolSpec

SPEC = SymbolSpec(SYMBOL, band_bps=60, window_ms=40, halt_ms=10)


def tagged(events):
    return [(type(e).__name__, *e) for e in events]


def run(book, cmds):
    out = []
    for c in cmds:
        out.extend(tagged(book.apply(c)))
    return out


def test_replay_is_deterministic():
    flow = list(random_flow(21, 20_000, ts_step=2))
    assert run(Book(SPEC), flow) == run(Book(SPEC), flow)


@pytest.mark.parametrize("cut", [1, 3_333, 10_000, 19_999])
def test_snapshot_restore_continue_matches_uninterrupted(cut):
    flow = list(random_flow(22, 20_000, ts_step=2))
    whole = run(Book(SPEC), flow)
    first = Book(SPEC)
    head = run(first, flow[:cut])
    data = json.loads(json.dumps(snapshot.to_dict(first)))    # must survive JSON
    restored = snapshot.from_dict(data, wide=cut % 2 == 1)   # ladder kind is not state
    restored.check_invariants()
    assert restored.depth(1000) == first.depth(1000)
    assert head + run(restored, flow[cut:]) == whole


def test_snapshot_keeps_halt_state():
    flow = list(random_flow(23, 20_000, ts_step=2))
    book = Book(SPEC)
    for i, c in enumerate(flow):
        book.apply(c)
        if book.halted_until is not None:
            break
    restored = snapshot.from_dict(json.loads(json.dumps(snapshot.to_dict(book))))
    assert restored.halted_until == book.halted_until
    assert run(restored, flow[i + 1:i + 200]) == run(book, flow[i + 1:i + 200])


def test_snapshot_rejects_unknown_version():
    data = snapshot.to_dict(Book(SPEC))
    data["version"] = 99
    with pytest.raises(ValueError, match="expected snapshot version 1, got 99"):
        snapshot.from_dict(data)


def test_a_snapshot_stores_the_spec_settings_not_the_ledgers_market_state():
    spec = SymbolSpec(SYMBOL, reference_price=100, last_price=120, halted_until_ms=5)
    data = json.loads(json.dumps(snapshot.to_dict(Book(spec))))
    assert "last_price" not in data["spec"] and "halted_until_ms" not in data["spec"]
    assert snapshot.from_dict(data).spec == SymbolSpec(SYMBOL, reference_price=100)


def test_a_snapshot_written_with_the_old_max_quantity_name_still_restores():
    data = json.loads(json.dumps(snapshot.to_dict(Book(SPEC))))
    data["spec"]["max_quantity"] = data["spec"].pop("max_order_quantity")
    assert snapshot.from_dict(data).spec == SPEC
