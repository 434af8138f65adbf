"""OHLCV candle arithmetic: pure functions over plain dicts (no I/O, no Faust).

Windows are tumbling, aligned to the epoch (UTC), by trade time in ms:
``start = ts - ts % length``; a trade at exactly ``start + length`` opens the next
candle. A candle is *closed* once the symbol's watermark (the highest trade time seen)
reaches ``start + length + GRACE_MS``: a trade that arrives late but before that still
lands in its candle; after it, the trade is dropped as too late.

Open and close follow trade time (ties by seq), so a late trade may become the open
but never the close of a candle that already has a later trade. Duplicates (a replay
after a crash) are ignored by seq: every candle remembers the highest seq it counted.
"""

from __future__ import annotations

INTERVALS: dict[str, int] = {"1m": 60_000, "5m": 300_000, "1h": 3_600_000,
                             "1d": 86_400_000}
GRACE_MS = 5_000  # tolerance for late trades, after the end of a window


def window_start(ts: int, length: int) -> int:
    return ts - ts % length


def is_closed(candle: dict, watermark: int, grace: int = GRACE_MS) -> bool:
    return watermark >= candle["start_ms"] + INTERVALS[candle["interval"]] + grace


def new_candle(symbol: str, interval: str, start_ms: int) -> dict:
    return {"symbol": symbol, "interval": interval, "start_ms": start_ms,
            "end_ms": start_ms + INTERVALS[interval], "open": None, "high": None,
            "low": None, "close": None, "volume": 0, "trades": 0, "last_seq": 0,
            "open_ts": None, "close_ts": None}


def add_trade(candle: dict, price: int, quantity: int, seq: int, ts: int) -> bool:
    """Count one trade into the candle (in place); False if seq was already counted."""
    if seq <= candle["last_seq"]:
        return False
    if candle["trades"] == 0:
        candle.update(open=price, high=price, low=price, close=price, open_ts=ts,
                      close_ts=ts)
    else:
        if ts < candle["open_ts"]:
            candle["open"], candle["open_ts"] = price, ts
        if ts >= candle["close_ts"]:
            candle["close"], candle["close_ts"] = price, ts
        candle["high"] = max(candle["high"], price)
        candle["low"] = min(candle["low"], price)
    candle["volume"] += quantity
    candle["trades"] += 1
    candle["last_seq"] = seq
    return True


class SymbolCandles:
    """The open candles and watermark of one symbol, as a JSON-able dict in ``state``.

    state = {"watermark": int, "open": {"1m:<start>": candle, ...}}
    """

    def __init__(self, symbol: str, state: dict | None = None) -> None:
        self.symbol = symbol
        self.state = state if state is not None else {"watermark": 0, "open": {}}

    @property
    def watermark(self) -> int:
        return self.state["watermark"]

    def apply(self, price: int, quantity: int, seq: int, ts: int) -> tuple[list, list]:
        """(updated candles, closed candles) for one trade.

        A trade too late for every window updates nothing; closed candles leave the
        state and are returned once (the caller persists them).
        """
        state = self.state
        state["watermark"] = max(state["watermark"], ts)
        watermark = state["watermark"]
        open_ = state["open"]
        updated = []
        for interval, length in INTERVALS.items():
            start = window_start(ts, length)
            if watermark >= start + length + GRACE_MS:
                continue  # too late: that candle is closed
            key = f"{interval}:{start}"
            candle = open_.get(key)
            if candle is None:
                candle = open_[key] = new_candle(self.symbol, interval, start)
            if add_trade(candle, price, quantity, seq, ts):
                updated.append(candle)
        return updated, self.close(watermark)

    def close(self, watermark: int) -> list:
        open_ = self.state["open"]
        done = [key for key, c in open_.items() if is_closed(c, watermark)]
        return [open_.pop(key) for key in sorted(done, key=lambda k: (open_[k]["start_ms"], k))]


def public(candle: dict, closed: bool = False) -> dict:
    """The JSON published on `candles` and sent to WebSocket clients (integer prices)."""
    return {"symbol": candle["symbol"], "interval": candle["interval"],
            "start_ms": candle["start_ms"], "end_ms": candle["end_ms"],
            "open": candle["open"], "high": candle["high"], "low": candle["low"],
            "close": candle["close"], "volume": candle["volume"], "trades": candle["trades"],
            "last_seq": candle["last_seq"], "closed": closed}
