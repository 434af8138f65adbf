"""Candles from real trades, across a SIGKILL and restart of the worker, with a replay."""

from __future__ import annotations

import json

from schemas.records import NewOrderRequest
from tests.platform import consume, wait_for


def order(order_id, account, side, quantity, price, symbol="ACME"):
    return NewOrderRequest(order_id=order_id, account=account, symbol=symbol, side=side,
                           quantity=quantity, price=price, order_type="LIMIT", tif="GTC")


class CandleWatch:
    """The latest state of every candle seen on the `candles` topic."""

    def __init__(self, platform):
        self.consumer = platform.consumer("candles")
        self.latest: dict[tuple[str, int], dict] = {}

    def poll(self) -> None:
        while (msg := self.consumer.poll(0.2)) is not None:
            assert msg.error() is None, msg.error()
            c = json.loads(msg.value())
            key = (c["interval"], c["start_ms"])
            if c["last_seq"] >= self.latest.get(key, {"last_seq": -1})["last_seq"]:
                self.latest[key] = c

    def totals(self, interval: str) -> tuple[int, int]:
        self.poll()
        rows = [c for (i, _), c in self.latest.items() if i == interval]
        return sum(c["trades"] for c in rows), sum(c["volume"] for c in rows)


def test_candles_survive_a_restart_without_gaps_or_double_counting(platform):
    p = platform
    p.symbol("ACME", reference_price=10_000)
    p.account("alice", ACME=100)
    p.account("bob", cash=10_000_000)
    worker = p.start_worker()
    p.wait_ready(worker)
    watch = CandleWatch(p)

    p.send("order-requests", "alice", order("a1", "alice", "SELL", 10, 10_000))
    p.send("order-requests", "alice", order("a2", "alice", "SELL", 10, 10_100))
    p.flush()
    wait_for(lambda: p.scalar("SELECT count(*) FROM orders WHERE account_id='alice'") == 2,
             90, "alice's orders", [worker.log_path])
    p.send("order-requests", "bob", order("b1", "bob", "BUY", 5, 10_000))
    p.send("order-requests", "bob", order("b2", "bob", "BUY", 10, 10_100))
    p.flush()
    # b1: 5 @ 100.00; b2: 5 @ 100.00 then 5 @ 101.00 (or b2 first: 10 @ 100.00) -> 3 or 2
    wait_for(lambda: p.scalar("SELECT coalesce(sum(quantity), 0) FROM trades") == 15,
             90, "15 shares traded", [worker.log_path])
    n_trades = p.scalar("SELECT count(*) FROM trades")
    wait_for(lambda: watch.totals("1d") == (n_trades, 15), 90, "the day's candle",
             [worker.log_path])
    assert watch.totals("1h") == watch.totals("5m") == watch.totals("1m") == (n_trades, 15)

    p.kill_worker(worker)  # SIGKILL
    # what a crash replays: the same trade records once more, same seq
    trades = consume(p.consumer("trades"), n_trades, 60)
    for msg in trades:
        p.send("trades", msg.key(), msg.value())
    p.flush()
    worker2 = p.start_worker()
    p.wait_ready(worker2)
    p.send("order-requests", "bob", order("b3", "bob", "BUY", 5, 10_100))
    p.flush()
    wait_for(lambda: p.scalar("SELECT coalesce(sum(quantity), 0) FROM trades") == 20,
             90, "20 shares traded", [worker2.log_path])
    wait_for(lambda: watch.totals("1d") == (n_trades + 1, 20), 90,
             "the day's candle after the restart", [worker2.log_path])
    for interval in ("1h", "5m", "1m"):
        assert watch.totals(interval) == (n_trades + 1, 20), interval
    day = [c for (i, _), c in watch.latest.items() if i == "1d"]
    assert len(day) == 1 or day[0]["start_ms"] % 86_400_000 == 0
    prices = sorted(p.rows("SELECT seq, price FROM trades ORDER BY seq"))
    if len(day) == 1:
        d = day[0]
        assert (d["open"], d["close"], d["high"], d["low"]) == (
            prices[0][1], prices[-1][1], max(r[1] for r in prices), min(r[1] for r in prices))
        assert d["last_seq"] == prices[-1][0]

    # closed (ended) minutes reach PostgreSQL, once, with the same figures
    wait_for(lambda: p.scalar("SELECT coalesce(sum(trades), 0) FROM candles "
                              "WHERE symbol='ACME' AND interval='1m'") == n_trades + 1,
             150, "the minute candles in PostgreSQL", [worker2.log_path], interval=1)
    assert p.scalar("SELECT sum(volume) FROM candles WHERE interval='1m'") == 20
    rows = p.rows("SELECT start_ms, open, high, low, close, volume, trades, last_seq "
                  "FROM candles WHERE interval='1m' ORDER BY start_ms")
    for row in rows:
        live = watch.latest[("1m", row[0])]
        assert tuple(row[1:]) == (live["open"], live["high"], live["low"], live["close"],
                                  live["volume"], live["trades"], live["last_seq"])
