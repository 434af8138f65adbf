"""The fast book against the naive reference: identical events on seeded flows."""
from __future__ import annotations

import pytest
from engine_flows import SYMBOL, random_flow
from engine_reference import RefBook

from engine.book import Book
from engine.spec import SymbolSpec


def tagged(events):
    return [(type(e).__name__, *e) for e in events]


def run_both(spec, flow, check_every=0, wide=False):
    fast, ref = Book(spec, wide=wide), RefBook(spec)
    for i, cmd in enumerate(flow):
        got, want = fast.apply(cmd), ref.apply(cmd)
        if tagged(got) != tagged(want):
            raise AssertionError(f"command #{i} {cmd}:\n fast {got}\n ref  {want}")
        if check_every and i % check_every == 0:
            fast.check_invariants()
    fast.check_invariants()
    return fast, ref


@pytest.mark.parametrize("seed,wide,n", [(1, False, 100_000), (2, True, 40_000)])
def test_matches_reference_on_seeded_flows(seed, wide, n):
    # breaker band and windows are small so halts and resumes happen often
    spec = SymbolSpec(SYMBOL, band_bps=60, window_ms=40, halt_ms=10)
    fast, ref = run_both(spec, random_flow(seed, n, ts_step=2), check_every=5_000,
                         wide=wide)
    resting = sorted((o[1], o[0]) for o in fast.index.values())
    assert resting == sorted((o.order_id, o.remaining) for o in ref.resting)
    assert fast.trade_seq == ref.trade_seq and fast.trade_seq > n // 10


def test_matches_reference_with_tick_size_and_reference_price():
    spec = SymbolSpec(SYMBOL, tick_size=5, band_bps=80, window_ms=30, halt_ms=10,
                      reference_price=50_000)
    run_both(spec, random_flow(9, 30_000, tick=5, start_price=50_000), check_every=1_000)
