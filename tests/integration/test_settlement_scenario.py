"""Several accounts and symbols through the whole pipeline; the results worked out by hand."""

from __future__ import annotations

from schemas.records import CancelRequest, NewOrderRequest
from tests.platform import wait_for


def order(order_id, account, symbol, side, quantity, price=None, order_type="LIMIT", tif="GTC"):
    return NewOrderRequest(order_id=order_id, account=account, symbol=symbol, side=side,
                           quantity=quantity, price=price, order_type=order_type, tif=tif)


def test_hand_computed_scenario(platform):
    p = platform
    p.symbol("ACME", reference_price=10_000)   # $100.00
    p.symbol("BOLT", reference_price=5_000)    # $50.00
    p.account("alice", cash=0, ACME=100)       # a seller
    p.account("bob", cash=1_000_000)           # $10,000.00
    p.account("carol", cash=500_000, BOLT=40)
    worker = p.start_worker()

    # ACME: alice offers 30 @ 100.00 and 20 @ 102.00; bob lifts 40 with a limit of 103.00
    p.send("order-requests", "alice", order("a1", "alice", "ACME", "SELL", 30, 10_000))
    p.send("order-requests", "alice", order("a2", "alice", "ACME", "SELL", 20, 10_200))
    p.flush()
    wait_for(lambda: p.scalar("SELECT count(*) FROM orders WHERE account_id='alice'") == 2,
             60, "alice's orders accepted", [worker.log_path])
    p.send("order-requests", "bob", order("b1", "bob", "ACME", "BUY", 40, 10_300))
    # BOLT: carol rests a sell of 10 @ 50.00, bob buys 4 at market, carol cancels the rest
    p.send("order-requests", "carol", order("c1", "carol", "BOLT", "SELL", 10, 5_000))
    p.flush()
    wait_for(lambda: p.scalar("SELECT count(*) FROM orders WHERE order_id='c1'") == 1,
             60, "carol's order accepted", [worker.log_path])
    p.send("order-requests", "bob", order("b2", "bob", "BOLT", "BUY", 4, order_type="MARKET"))
    p.flush()
    wait_for(lambda: p.scalar("SELECT count(*) FROM trades") == 3, 60, "three trades",
             [worker.log_path])
    p.send("order-requests", "carol", CancelRequest(order_id="c1", account="carol"))
    p.flush()
    wait_for(lambda: p.scalar("SELECT status FROM orders WHERE order_id='c1'") == "CANCELLED",
             60, "carol's cancel", [worker.log_path])
    wait_for(lambda: p.scalar("SELECT status FROM orders WHERE order_id='b2'") == "FILLED",
             60, "bob's market order settled", [worker.log_path])

    trades = p.rows("SELECT symbol, price, quantity, buyer, seller FROM trades "
                    "ORDER BY symbol, seq")
    assert [tuple(t) for t in trades] == [
        ("ACME", 10_000, 30, "bob", "alice"),   # maker's price, best first
        ("ACME", 10_200, 10, "bob", "alice"),
        ("BOLT", 5_000, 4, "bob", "carol"),
    ]
    # bob: 10,000.00 - 30*100 - 10*102 - 4*50 = 10,000 - 3,000 - 1,020 - 200 = 5,780.00
    # b1 filled 40 of 40: nothing left reserved; b2 (MARKET, collar 55.00) filled: none left
    assert tuple(p.rows("SELECT cash, reserved_cash FROM accounts WHERE account_id='bob'")[0]) \
        == (578_000, 0)
    # alice: 3,000 + 1,020 = 4,020.00; 50 ACME left available, 10 still offered (a2)
    assert tuple(p.rows("SELECT cash, reserved_cash FROM accounts WHERE account_id='alice'")[0]) \
        == (402_000, 0)
    assert tuple(p.rows("SELECT quantity, reserved_quantity FROM holdings "
                        "WHERE account_id='alice' AND symbol='ACME'")[0]) == (50, 10)
    # carol: +200.00; 40 - 4 = 36 BOLT, none reserved after the cancel
    assert tuple(p.rows("SELECT cash, reserved_cash FROM accounts WHERE account_id='carol'")[0]) \
        == (520_000, 0)
    assert tuple(p.rows("SELECT quantity, reserved_quantity FROM holdings "
                        "WHERE account_id='carol' AND symbol='BOLT'")[0]) == (36, 0)
    # bob's holdings and average cost: ACME 40 for 4,020.00 -> 100.50; BOLT 4 for 200.00
    assert [tuple(r) for r in p.rows(
        "SELECT symbol, quantity, reserved_quantity, cost_basis FROM holdings "
        "WHERE account_id='bob' ORDER BY symbol")] == [("ACME", 40, 0, 402_000),
                                                       ("BOLT", 4, 0, 20_000)]
    statuses = dict(p.rows("SELECT order_id, status FROM orders"))
    assert statuses == {"a1": "FILLED", "a2": "PARTIALLY_FILLED", "b1": "FILLED",
                        "b2": "FILLED", "c1": "CANCELLED"}
    assert p.scalar("SELECT filled_quantity FROM orders WHERE order_id='c1'") == 4
    assert p.scalar("SELECT last_price FROM symbols WHERE symbol='ACME'") == 10_200
    p.assert_reconciled()
