"""Circuit-breaker arithmetic for one symbol (integers only).

Reference price at event time ``ts`` ("the price five minutes earlier"):
  1. the price of the last trade with trade time <= ``ts - window_ms``; else
  2. the spec's ``reference_price`` if configured; else
  3. the first trade price this symbol ever printed; else
  4. none: the trade is allowed (the very first trade sets the reference).
A trade at ``price`` breaches when ``|price - ref| * 10_000 > band_bps * ref``.
A breach halts the symbol until ``ts + halt_ms``; the halt ends at the first command
whose event time is >= that instant.
"""
from __future__ import annotations

from collections import deque

INF = 1 << 62   # bigger than any price in cents
BPS = 10_000


class Breaker:
    __slots__ = ("band_bps", "window_ms", "halt_ms", "reference_price", "first_price",
                 "base_price", "history", "halted_until")

    def __init__(self, band_bps: int, window_ms: int, halt_ms: int,
                 reference_price: int | None = None) -> None:
        self.band_bps = band_bps
        self.window_ms = window_ms
        self.halt_ms = halt_ms
        self.reference_price = reference_price
        self.first_price: int | None = None
        self.base_price: int | None = None   # last trade at or before the window start
        # (ts, last price at ts) for trades inside the window, oldest first
        self.history: deque[tuple[int, int]] = deque()
        self.halted_until: int | None = None

    def reference(self, ts: int) -> int | None:
        cutoff = ts - self.window_ms
        history = self.history
        while history and history[0][0] <= cutoff:
            self.base_price = history.popleft()[1]
        if self.base_price is not None:
            return self.base_price
        if self.reference_price is not None:
            return self.reference_price
        return self.first_price

    def bounds(self, ts: int) -> tuple[int, int, int]:
        """(lowest allowed price, highest allowed price, reference or 0)."""
        ref = self.reference(ts)
        if ref is None:
            return -INF, INF, 0
        band = self.band_bps
        hi = ref * (BPS + band) // BPS
        lo = -((-ref * (BPS - band)) // BPS)   # ceiling division
        return lo, hi, ref

    def record(self, ts: int, price: int) -> None:
        if self.first_price is None:
            self.first_price = price
        history = self.history
        if history:
            last_ts, last_price = history[-1]
            if last_ts == ts:
                history[-1] = (ts, price)   # keep one entry per ms: the last price wins
                return
            if last_price == price:
                # for every cutoff the older entry gives the same answer: a run of trades
                # at one price costs one entry (the history goes into every snapshot)
                return
        history.append((ts, price))

    def to_dict(self) -> dict:
        return {"first_price": self.first_price, "base_price": self.base_price,
                "history": list(self.history),  # (ts, price) tuples: JSON arrays
                "halted_until": self.halted_until}

    def load(self, data: dict) -> None:
        self.first_price = data["first_price"]
        self.base_price = data["base_price"]
        self.history = deque((int(t), int(p)) for t, p in data["history"])
        self.halted_until = data["halted_until"]
