"""One reader of the symbols table (ledger/specs.py) for one rules type (SymbolSpec)."""

from __future__ import annotations

from dataclasses import fields

import pytest

from engine.spec import SymbolSpec
from ledger import specs
from ledger.tables import symbols


def test_the_reader_maps_every_spec_field_to_a_symbols_column():
    assert tuple(specs.COLUMNS) == tuple(f.name for f in fields(SymbolSpec))
    assert set(specs.COLUMNS.values()) <= set(symbols.c.keys())


def test_a_row_becomes_a_spec_field_by_field():
    row = ("ACME", 5, 10, 1_000, 2_000_000, 1000, 300_000, 300_000, 10_000, 10_250, 7)
    assert specs.spec_of(row) == SymbolSpec(
        "ACME", tick_size=5, lot_size=10, max_order_quantity=1_000,
        shares_outstanding=2_000_000, band_bps=1000, window_ms=300_000, halt_ms=300_000,
        reference_price=10_000, last_price=10_250, halted_until_ms=7)


def test_the_gate_treats_a_symbol_with_an_invalid_row_as_unknown():
    good = ("ACME", 1, 1, 1_000, 1_000, 1000, 300_000, 300_000, 10_000, None, 0)
    bad = ("BAD", 1, 1, 1_000, 1_000, 1000, 0, 300_000, 10_000, None, 0)  # window 0
    assert set(specs._by_symbol([good, bad])) == {"ACME"}
    with pytest.raises(ValueError):
        specs.spec_of(bad)
