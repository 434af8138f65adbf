"""`reconcile` catches each kind of breach, and the ledger refuses a negative balance."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from schemas.records import Trade


def failed(platform) -> dict[str, str]:
    return {c.name: c.detail for c in platform.reconcile() if not c.ok}


def execute(platform, sql: str) -> None:
    with platform.db.begin() as conn:
        conn.execute(text(sql))


def test_each_invariant_breach_is_reported(platform):
    p = platform
    p.symbol("ACME", reference_price=10_000)
    p.account("alice", cash=50_000, ACME=10)
    p.account("bob", cash=70_000)
    assert failed(p) == {}

    execute(p, "UPDATE accounts SET cash = cash + 1 WHERE account_id = 'bob'")
    assert list(failed(p)) == ["conservation per asset"]
    assert "CASH: held 120001" in failed(p)["conservation per asset"]
    execute(p, "UPDATE accounts SET cash = cash - 1 WHERE account_id = 'bob'")

    execute(p, "UPDATE holdings SET quantity = quantity - 2, reserved_quantity = 2")
    assert list(failed(p)) == ["reserved == what open orders can still spend"]
    execute(p, "UPDATE holdings SET quantity = quantity + 2, reserved_quantity = 0")

    execute(p, "INSERT INTO orders (order_id, account_id, symbol, side, order_type, tif, "
               "quantity, price, filled_quantity, status) VALUES "
               "('o1', 'bob', 'ACME', 'BUY', 'LIMIT', 'GTC', 5, 10000, 3, 'PARTIALLY_FILLED')")
    assert "filled quantity == sum of trades, status follows" in failed(p)
    assert "order o1: filled 3 but its trades sum to 0" in failed(p)[
        "filled quantity == sum of trades, status follows"]
    execute(p, "DELETE FROM orders")

    p.send("trades", "ACME", Trade(trade_id="ACME-1", symbol="ACME", seq=1, price=10_000,
                                   quantity=1, buy_order_id="b", sell_order_id="s",
                                   buyer="bob", seller="alice", maker_order_id="s",
                                   aggressor="BUY", ts=1))
    p.flush()
    assert failed(p) == {"every trade in the topic settled exactly once":
                         "trade ACME-1 is in the topic but not settled"}


def test_the_ledger_refuses_negative_balances(platform):
    platform.symbol("ACME")
    platform.account("alice", cash=100, ACME=1)
    for sql in ("UPDATE accounts SET cash = -1", "UPDATE accounts SET reserved_cash = -1",
                "UPDATE holdings SET quantity = -1", "UPDATE holdings SET reserved_quantity = -1"):
        with pytest.raises(IntegrityError, match="not_negative"):
            execute(platform, sql)
