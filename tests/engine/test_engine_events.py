"""Event records: JSON round trip, level-change feed consistent with depth."""
from __future__ import annotations

import json

from engine_flows import SYMBOL, random_flow

from engine.book import Book
from engine.enums import Side
from engine.events import EVENT_TYPES, LevelChanged, from_dict, to_dict
from engine.spec import SymbolSpec


def test_every_event_type_round_trips_through_json_without_floats():
    book = Book(SymbolSpec(SYMBOL, band_bps=60, window_ms=40, halt_ms=10), emit_levels=True)
    seen = {}
    for cmd in random_flow(31, 5_000, ts_step=2):
        for e in book.apply(cmd):
            seen.setdefault(type(e).__name__, e)
    assert seen.keys() == EVENT_TYPES.keys(), sorted(seen)
    for e in seen.values():
        text = json.dumps(to_dict(e))
        assert not any(isinstance(v, float) for v in to_dict(e).values())
        back = from_dict(json.loads(text))
        assert type(back) is type(e) and back == e


def test_level_changes_rebuild_the_depth_exactly():
    book = Book(SymbolSpec(SYMBOL, band_bps=60, window_ms=40, halt_ms=10), emit_levels=True)
    mirror = {Side.BUY: {}, Side.SELL: {}}
    seq = 0
    for i, cmd in enumerate(random_flow(32, 20_000, ts_step=2)):
        for e in book.apply(cmd):
            assert e.seq == seq + 1, "per-symbol seq must have no gaps"
            seq = e.seq
            if isinstance(e, LevelChanged):
                if e.count:
                    mirror[e.side][e.price] = (e.quantity, e.count)
                else:
                    assert e.quantity == 0
                    mirror[e.side].pop(e.price)
        if i % 97 == 0:
            depth = book.depth(10_000)
            assert sorted(mirror[Side.BUY].items(), reverse=True) == [
                (p, (q, c)) for p, q, c in depth["bids"]]
            assert sorted(mirror[Side.SELL].items()) == [(p, (q, c)) for p, q, c in depth["asks"]]
