"""Candle arithmetic against a hand-computed series (engine/candles.py, pure)."""

from __future__ import annotations

from engine.candles import GRACE_MS, SymbolCandles, add_trade, new_candle, public, window_start

M = 60_000
T0 = 1_700_000_040_000  # 2023-11-14 22:14:00.000 UTC: a minute boundary (not 5m, 1h, 1d)


def ohlcv(c):
    return (c["open"], c["high"], c["low"], c["close"], c["volume"], c["trades"], c["last_seq"])


def test_window_edges():
    assert T0 % M == 0
    assert window_start(T0, M) == T0
    assert window_start(T0 + M - 1, M) == T0          # last ms of the minute
    assert window_start(T0 + M, M) == T0 + M          # first ms of the next one
    assert window_start(T0, 5 * M) == T0 - 4 * M      # 22:10
    assert window_start(T0, 3_600_000) == T0 - 14 * M  # 22:00
    assert window_start(T0, 86_400_000) == T0 - (22 * 60 + 14) * M  # midnight UTC


def test_hand_computed_series():
    s = SymbolCandles("ACME")
    # (price, qty, seq, ts)
    series = [(10_000, 5, 1, T0),               # 22:14:00.000 opens the minute
              (10_050, 3, 2, T0 + 20_000),
              (9_980, 2, 3, T0 + 59_999),       # last ms of 22:14
              (10_010, 4, 4, T0 + M),           # 22:15:00.000: next 1m AND next 5m
              (10_020, 1, 5, T0 + M + 3_000)]   # 22:15:03, inside the grace
    closed_all = []
    for price, qty, seq, ts in series:
        _, closed = s.apply(price, qty, seq, ts)
        closed_all += closed
    assert closed_all == []  # 22:14 ends at 22:15:00, closes at 22:15:05 (grace)
    opened = s.state["open"]
    # 1m 22:14: O 100.00 H 100.50 L 99.80 C 99.80, V 10, 3 trades
    assert ohlcv(opened[f"1m:{T0}"]) == (10_000, 10_050, 9_980, 9_980, 10, 3, 3)
    assert ohlcv(opened[f"1m:{T0 + M}"]) == (10_010, 10_020, 10_010, 10_020, 5, 2, 5)
    # 5m 22:10-22:15 holds the first three, 22:15-22:20 the last two
    assert ohlcv(opened[f"5m:{T0 - 4 * M}"]) == (10_000, 10_050, 9_980, 9_980, 10, 3, 3)
    assert ohlcv(opened[f"5m:{T0 + M}"]) == (10_010, 10_020, 10_010, 10_020, 5, 2, 5)
    # 1h and 1d hold all five
    hour = opened[f"1h:{T0 - 14 * M}"]
    assert ohlcv(hour) == (10_000, 10_050, 9_980, 10_020, 15, 5, 5)
    day = window_start(T0, 86_400_000)
    assert ohlcv(opened[f"1d:{day}"]) == (10_000, 10_050, 9_980, 10_020, 15, 5, 5)

    # a trade at 22:15:05.000 (end + grace) closes the 22:14 minute and the 22:10 5m
    _, closed = s.apply(10_030, 2, 6, T0 + M + GRACE_MS)
    assert [(c["interval"], c["start_ms"]) for c in closed] == [("5m", T0 - 4 * M),
                                                                ("1m", T0)]
    assert ohlcv(closed[1]) == (10_000, 10_050, 9_980, 9_980, 10, 3, 3)
    assert f"1m:{T0}" not in s.state["open"]
    assert public(closed[1], closed=True)["closed"] is True
    assert public(closed[1])["end_ms"] == T0 + M


def test_late_trade_within_tolerance_lands_in_its_candle():
    s = SymbolCandles("ACME")
    s.apply(10_000, 1, 1, T0 + 10_000)
    s.apply(10_100, 1, 2, T0 + M + 1_000)       # next minute: watermark 22:15:01
    updated, closed = s.apply(9_900, 7, 3, T0 + 59_000)  # late, but within 5 s grace
    assert closed == []
    assert {c["interval"] for c in updated} == {"1m", "5m", "1h", "1d"}
    minute = s.state["open"][f"1m:{T0}"]
    assert ohlcv(minute) == (10_000, 10_000, 9_900, 9_900, 8, 2, 3)  # it is the close now
    hour = s.state["open"][f"1h:{T0 - 14 * M}"]
    # by trade time the late trade is not the hour's close: 101.00 (22:15:01) is
    assert ohlcv(hour) == (10_000, 10_100, 9_900, 10_100, 9, 3, 3)


def test_trade_later_than_tolerance_is_dropped_from_closed_candles():
    s = SymbolCandles("ACME")
    s.apply(10_000, 1, 1, T0 + 10_000)
    _, closed = s.apply(10_100, 1, 2, T0 + M + GRACE_MS)   # closes 22:14
    assert [c["interval"] for c in closed] == ["5m", "1m"]
    updated, _ = s.apply(9_000, 5, 3, T0 + 30_000)          # too late for 1m and 5m
    assert {c["interval"] for c in updated} == {"1h", "1d"}
    assert f"1m:{T0}" not in s.state["open"]


def test_open_follows_trade_time():
    c = new_candle("ACME", "1m", T0)
    add_trade(c, 100, 1, 1, T0 + 5_000)
    add_trade(c, 90, 1, 2, T0 + 1_000)  # earlier trade time: the new open
    assert (c["open"], c["close"]) == (90, 100)


def test_replayed_trades_are_not_counted_twice():
    s = SymbolCandles("ACME")
    trades = [(10_000, 5, 1, T0), (10_050, 3, 2, T0 + 1), (9_990, 2, 3, T0 + 2)]
    for t in trades:
        s.apply(*t)
    before = ohlcv(s.state["open"][f"1m:{T0}"])
    for t in trades[1:]:                      # a crash replays the last two
        updated, _ = s.apply(*t)
        assert updated == []
    assert ohlcv(s.state["open"][f"1m:{T0}"]) == before == (10_000, 10_050, 9_990, 9_990,
                                                            10, 3, 3)
    s.apply(10_005, 1, 4, T0 + 3)
    assert ohlcv(s.state["open"][f"1m:{T0}"]) == (10_000, 10_050, 9_990, 10_005, 11, 4, 4)


def test_state_is_plain_json_and_resumes():
    import json

    s = SymbolCandles("ACME")
    s.apply(10_000, 5, 1, T0)
    resumed = SymbolCandles("ACME", json.loads(json.dumps(s.state)))
    resumed.apply(10_000, 5, 1, T0)      # replay: ignored
    resumed.apply(10_200, 1, 2, T0 + 5)
    assert ohlcv(resumed.state["open"][f"1m:{T0}"]) == (10_000, 10_200, 10_000, 10_200, 6, 2, 2)
