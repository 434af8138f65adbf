"""Symbol specification: the one place where units are defined.

Prices are integers in cents; ``tick_size`` is the price increment in cents (a price
not a multiple of it is OFF_TICK). Quantities are integer shares; ``lot_size`` is the
quantity increment. Breaker settings are integers too (basis points, milliseconds).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    symbol: str
    tick_size: int = 1                 # cents
    lot_size: int = 1                  # shares
    max_quantity: int = 1_000_000      # per order
    shares_outstanding: int = 0        # used by the gate's position limit
    band_bps: int = 1000               # breaker band: 10%
    window_ms: int = 300_000           # "price five minutes earlier"
    halt_ms: int = 300_000             # halt duration
    reference_price: int | None = None  # breaker reference before any old-enough trade

    def __post_init__(self) -> None:
        for name in ("tick_size", "lot_size", "max_quantity", "window_ms", "halt_ms"):
            value = getattr(self, name)
            if type(value) is not int or value <= 0:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if type(self.band_bps) is not int or self.band_bps < 0:
            raise ValueError(f"band_bps must be a non-negative int, got {self.band_bps!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> SymbolSpec:
        return cls(**data)
