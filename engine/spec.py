"""Symbol specification: the one type for a symbol's rules, and where units are defined.

Prices are integers in cents; ``tick_size`` is the price increment in cents (a price
not a multiple of it is OFF_TICK). Quantities are integer shares; ``lot_size`` is the
quantity increment. Breaker settings are integers too (basis points, milliseconds).

One row of the ledger's ``symbols`` table (read by ``ledger/specs.py``); the API, the
gate and the matcher all use this type. Field names are the table's columns, except the
breaker's (``breaker_band_bps`` -> ``band_bps``, ``breaker_window_ms`` -> ``window_ms``).

``reference_price`` is the symbol's configured price before any trade: the breaker's
reference until a trade is old enough, and the MARKET collar's base until the first
trade (``market_price``).

``last_price`` and ``halted_until_ms`` are the ledger's market state when the row was
read, for the gate's checks; the engine does not use them (a book keeps its own last
trades and halt), and snapshots do not carry them.

``home_partition`` is the `orders` partition the gate produces the symbol's commands to
and the only one the matcher applies them from (one writer per book); a book's snapshot
lives in that partition's changelog partition, so it does not carry it either.
"""
from __future__ import annotations

from dataclasses import dataclass

# the settings a book is built from: what a snapshot stores
SETTINGS = ("symbol", "tick_size", "lot_size", "max_order_quantity", "shares_outstanding",
            "band_bps", "window_ms", "halt_ms", "reference_price")
# field names snapshots written before max_order_quantity was the field's name used
_OLD_NAMES = {"max_quantity": "max_order_quantity"}


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    symbol: str
    tick_size: int = 1                 # cents
    lot_size: int = 1                  # shares
    max_order_quantity: int = 1_000_000  # per order
    shares_outstanding: int = 0        # used by the gate's position limit
    band_bps: int = 1000               # breaker band: 10%
    window_ms: int = 300_000           # "price five minutes earlier"
    halt_ms: int = 300_000             # halt duration
    reference_price: int | None = None  # cents; the configured price before any trade
    last_price: int | None = None      # cents; the ledger's last trade price, None before one
    halted_until_ms: int = 0           # the ledger's halt: orders before it are HALTED
    home_partition: int = 0            # the one `orders` partition of its commands

    def __post_init__(self) -> None:
        for name in ("tick_size", "lot_size", "max_order_quantity", "window_ms", "halt_ms"):
            value = getattr(self, name)
            if type(value) is not int or value <= 0:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if type(self.band_bps) is not int or self.band_bps < 0:
            raise ValueError(f"band_bps must be a non-negative int, got {self.band_bps!r}")

    def quantity_ok(self, qty) -> bool:
        """An order quantity this symbol allows: a positive int, at most max_order_quantity,
        a multiple of lot_size (else BAD_QUANTITY)."""
        return type(qty) is int and 0 < qty <= self.max_order_quantity and not qty % self.lot_size

    def on_tick(self, price: int) -> bool:
        """A price that is a multiple of tick_size (else OFF_TICK)."""
        return not price % self.tick_size

    @property
    def market_price(self) -> int | None:
        """The last trade price, or the reference price before any trade: the MARKET
        collar's base."""
        return self.last_price if self.last_price is not None else self.reference_price

    def to_dict(self) -> dict:
        """The settings (SETTINGS), JSON-serialisable."""
        return {name: getattr(self, name) for name in SETTINGS}

    @classmethod
    def from_dict(cls, data: dict) -> SymbolSpec:
        return cls(**{_OLD_NAMES.get(k, k): v for k, v in data.items()})
