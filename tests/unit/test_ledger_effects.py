"""What a batch does to the rows it locked (ledger/effects.py, pure): hand-computed cases,
and properties: a batch settles exactly as its trades one at a time, however the stream
is cut into batches; halts fold into one (floor, ceiling) per symbol."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.effects import (
    AccountState,
    HoldingState,
    OrderState,
    SettlementError,
    halt_bounds,
    release,
    settle,
)
from ledger.settlement import releasable
from schemas.records import Halt, OrderEvent, Trade


def order(order_id, account, side, quantity, price, symbol="ACME", filled=0):
    left = quantity - filled
    return OrderState(order_id, account, symbol, side, quantity, price, filled, 0,
                      left * price if side == "BUY" else 0, left if side == "SELL" else 0,
                      "PARTIALLY_FILLED" if filled else "ACCEPTED", None)


def trade(seq, buy, sell, quantity, price, buyer="bob", seller="alice", symbol="ACME"):
    return Trade(trade_id=f"{symbol}-{seq}", symbol=symbol, seq=seq, price=price,
                 quantity=quantity, buy_order_id=buy, sell_order_id=sell, buyer=buyer,
                 seller=seller, maker_order_id=sell, aggressor="BUY", ts=seq)


def test_two_sales_in_one_batch_each_take_their_floored_share_of_the_cost():
    """Alice holds 4 ACME that cost 10 cents and sells 1, then 1 more: the first sale
    leaves 10 - 10*1//4 = 8, the second 8 - 8*1//3 = 6. (Selling 2 of 4 at once would
    leave 10 - 10*2//4 = 5: the rule is per trade, in seq order, whatever the batch.)"""
    accounts = {"alice": AccountState(0, 0), "bob": AccountState(1_000, 10)}
    holdings = {("alice", "ACME"): HoldingState(2, 2, 10),
                ("bob", "ACME"): HoldingState(0, 0, 0, open_buys=2)}
    orders = {"s": order("s", "alice", "SELL", 2, 4), "b": order("b", "bob", "BUY", 2, 5)}
    changed = settle([trade(1, "b", "s", 1, 4), trade(2, "b", "s", 1, 4)],
                     accounts, holdings, orders)

    assert holdings[("alice", "ACME")] == HoldingState(2, 0, 6)
    assert holdings[("bob", "ACME")] == HoldingState(2, 0, 8, open_buys=0)  # paid 4 + 4
    # bob reserved 2 x 5 at his limit, paid 2 x 4: the improvement comes back
    assert accounts["bob"] == AccountState(1_000 + 2, 0)
    assert accounts["alice"] == AccountState(8, 0)
    assert (orders["b"].filled, orders["b"].status, orders["b"].reserved_cash) == (2, "FILLED", 0)
    assert (orders["s"].filled, orders["s"].status, orders["s"].reserved_quantity) == (
        2, "FILLED", 0)
    assert changed.accounts == {"alice", "bob"} and changed.orders == {"b", "s"}
    assert changed.holdings == {("alice", "ACME"), ("bob", "ACME")}
    assert changed.last_trade == {"ACME": (2, 4)}


def test_a_trade_naming_what_the_ledger_lacks_is_refused():
    accounts = {"alice": AccountState(0, 0), "bob": AccountState(100, 10)}
    holdings = {("alice", "ACME"): HoldingState(0, 1, 0), ("bob", "ACME"): HoldingState(0, 0)}
    orders = {"s": order("s", "alice", "SELL", 1, 10), "b": order("b", "bob", "BUY", 1, 10)}
    with pytest.raises(SettlementError, match="order"):
        settle([trade(1, "b", "ghost", 1, 10)], accounts, holdings, orders)
    del holdings[("alice", "ACME")]
    with pytest.raises(SettlementError, match="holding"):
        settle([trade(1, "b", "s", 1, 10)], accounts, holdings, orders)


def test_release_gives_back_the_remainder_once():
    accounts = {"bob": AccountState(0, 300)}
    holdings = {("alice", "ACME"): HoldingState(0, 7, 70),
                ("bob", "ACME"): HoldingState(0, 0, 0, open_buys=6)}
    orders = {"b": order("b", "bob", "BUY", 10, 50, filled=4),  # 6 x 50 still reserved
              "s": order("s", "alice", "SELL", 7, 90)}
    events = {"b": OrderEvent(order_id="b", account="bob", symbol="ACME", status="CANCELLED",
                              ts=1, remaining_quantity=6, seq=9),
              "s": OrderEvent(order_id="s", account="alice", symbol="ACME", status="REJECTED",
                              ts=1, reason="HALTED", seq=9)}
    changed = release(events, accounts, holdings, orders)

    assert accounts["bob"] == AccountState(300, 0)
    assert holdings[("alice", "ACME")] == HoldingState(7, 0, 70)
    assert holdings[("bob", "ACME")] == HoldingState(0, 0, 0, open_buys=0)
    assert (orders["b"].cancelled, orders["b"].status, orders["b"].reserved_cash) == (
        6, "CANCELLED", 0)
    assert (orders["s"].cancelled, orders["s"].status, orders["s"].reject_reason) == (
        7, "REJECTED", "HALTED")
    assert changed.orders == {"b", "s"}
    # a replay changes nothing; releasing more than is left is refused
    assert release(events, accounts, holdings, orders).orders == set()
    orders["c"] = order("c", "bob", "BUY", 2, 50)
    with pytest.raises(SettlementError, match="cannot release 3"):
        release({"c": OrderEvent(order_id="c", account="bob", symbol="ACME",
                                 status="CANCELLED", ts=1, remaining_quantity=3, seq=9)},
                accounts, holdings, orders)


# -- a batch is its trades one at a time ---------------------------------------------------

ACCOUNTS = ("a", "b", "c")


@st.composite
def ledgers_and_trades(draw):
    """A ledger whose resting orders reserve what they may spend, and trades that fill
    them (at most their quantity, at most the buy's limit price), in seq order."""
    orders: dict[str, OrderState] = {}
    for side in ("BUY", "SELL"):
        for k in range(draw(st.integers(1, 3))):
            orders[f"{side}{k}"] = order(f"{side}{k}", draw(st.sampled_from(ACCOUNTS)), side,
                                         draw(st.integers(1, 60)), draw(st.integers(1, 200)))
    accounts = {a: AccountState(draw(st.integers(0, 10_000)), 0) for a in ACCOUNTS}
    holdings = {(a, "ACME"): HoldingState(draw(st.integers(0, 50)), 0,
                                          draw(st.integers(0, 20_000))) for a in ACCOUNTS}
    for o in orders.values():
        accounts[o.account_id].reserved_cash += o.reserved_cash
        holdings[(o.account_id, "ACME")].reserved_quantity += o.reserved_quantity
        if o.side == "BUY":
            holdings[(o.account_id, "ACME")].open_buys += o.quantity
    left = {k: o.quantity for k, o in orders.items()}
    trades = []
    for seq in range(1, draw(st.integers(1, 25)) + 1):
        buy = draw(st.sampled_from([k for k in orders if k.startswith("BUY")]))
        sell = draw(st.sampled_from([k for k in orders if k.startswith("SELL")]))
        most = min(left[buy], left[sell])
        if most == 0:
            continue
        quantity = draw(st.integers(1, most))
        left[buy] -= quantity
        left[sell] -= quantity
        trades.append(trade(seq, buy, sell, quantity, draw(st.integers(1, orders[buy].price)),
                            buyer=orders[buy].account_id, seller=orders[sell].account_id))
    cuts = sorted(set(draw(st.lists(st.integers(0, len(trades)), max_size=4))))
    return (accounts, holdings, orders), trades, cuts


def _totals(state):
    accounts, holdings, _ = state
    return (sum(a.cash + a.reserved_cash for a in accounts.values()),
            sum(h.quantity + h.reserved_quantity for h in holdings.values()))


@settings(max_examples=300, deadline=None)
@given(ledgers_and_trades())
def test_a_batch_settles_exactly_as_its_trades_one_at_a_time(case):
    state, trades, cuts = case
    whole, single, cut = copy.deepcopy(state), copy.deepcopy(state), copy.deepcopy(state)
    settle(trades, *whole)
    for t in trades:
        settle([t], *single)
    for start, end in zip([0, *cuts], [*cuts, len(trades)]):
        settle(trades[start:end], *cut)
    assert whole == single == cut
    assert _totals(whole) == _totals(state)  # cash and shares only move between accounts
    for o in whole[2].values():
        assert o.reserved_cash >= 0 and o.reserved_quantity >= 0
        assert o.status == ("FILLED" if o.filled == o.quantity
                            else "PARTIALLY_FILLED" if o.filled else "ACCEPTED")
    for (account, _), h in whole[1].items():  # what the account's buys may still buy
        assert h.open_buys == sum(o.quantity - o.filled for o in whole[2].values()
                                  if o.account_id == account and o.side == "BUY")


# -- halts ---------------------------------------------------------------------------------

halts = st.lists(st.builds(
    lambda symbol, halted, ts, until: Halt(symbol=symbol, halted=halted, ts=ts,
                                           until_ts=until),
    st.sampled_from(("ACME", "BOLT")), st.booleans(), st.integers(0, 100),
    st.integers(0, 100)), max_size=8)


@settings(max_examples=500, deadline=None)
@given(halts, st.integers(0, 100), st.integers(0, 100))
def test_halts_fold_into_one_update_per_symbol(records, acme, bolt):
    """least(greatest(h, floor), ceiling), as PostgreSQL computes it (None ignored), is
    each halt applied in turn: a halt raises h to its until_ts, an end lowers it to ts."""
    expected = {"ACME": acme, "BOLT": bolt}
    for h in records:
        current = expected[h.symbol]
        expected[h.symbol] = max(current, h.until_ts) if h.halted else min(current, h.ts)
    got = {"ACME": acme, "BOLT": bolt}
    for symbol, (floor, ceiling) in halt_bounds(records).items():
        value = got[symbol] if floor is None else max(got[symbol], floor)
        got[symbol] = value if ceiling is None else min(value, ceiling)
    assert got == expected


def test_a_matcher_rejection_releases_whether_or_not_a_book_made_it():
    """NOT_HOME_PARTITION is decided before any book (seq 0); DUPLICATE_ORDER_ID names
    another order's id, which holds the reservation."""
    def event(order_id, status, reason, seq):
        return OrderEvent(order_id=order_id, account="bob", symbol="ACME", status=status,
                          ts=1, reason=reason, seq=seq)
    released = releasable([event("home", "REJECTED", "NOT_HOME_PARTITION", 0),
                           event("halt", "REJECTED", "HALTED", 7),
                           event("dup", "REJECTED", "DUPLICATE_ORDER_ID", 8),
                           event("gone", "CANCELLED", "USER", 9)])
    assert sorted(released) == ["gone", "halt", "home"]
