"""Post-only orders end to end: one that would trade on arrival is rejected by the
matcher and its reservation released; one that rests trades later as the maker."""

from __future__ import annotations

from schemas.records import NewOrderRequest
from tests.platform import wait_for


def _status(p, order_id: str):
    return p.scalar("SELECT status FROM orders WHERE order_id = :o", o=order_id)


def test_post_only_is_rejected_when_it_would_cross_and_rests_otherwise(platform):
    p = platform
    p.symbol("ACME", reference_price=10_000)
    p.account("alice", cash=1_000_000)
    p.account("bob", ACME=100)
    worker = p.start_worker()
    logs = [worker.log_path]
    p.send("order-requests", b"bob", NewOrderRequest(
        order_id="ask", account="bob", symbol="ACME", side="SELL", quantity=10, price=10_000))
    p.flush()  # alice's requests may be on another partition, read before bob's
    # the gate sends what it accepted in order: the ask reaches the book first
    wait_for(lambda: _status(p, "ask") == "ACCEPTED", 90, "bob's ask accepted", logs)
    p.send("order-requests", b"alice", NewOrderRequest(
        order_id="cross", account="alice", symbol="ACME", side="BUY", quantity=5,
        price=10_000, post_only=True))
    p.send("order-requests", b"alice", NewOrderRequest(
        order_id="ioc", account="alice", symbol="ACME", side="BUY", quantity=5,
        price=9_000, tif="IOC", post_only=True))
    p.send("order-requests", b"alice", NewOrderRequest(
        order_id="bid", account="alice", symbol="ACME", side="BUY", quantity=5,
        price=9_900, post_only=True))
    p.flush()
    wait_for(lambda: _status(p, "cross") == "REJECTED", 90, "the crossing one rejected", logs)
    assert p.rows("SELECT reject_reason, reserved_cash FROM orders WHERE order_id = 'cross'"
                  ) == [("POST_ONLY_WOULD_CROSS", 0)]
    assert p.rows("SELECT status, reject_reason FROM orders WHERE order_id = 'ioc'"
                  ) == [("REJECTED", "POST_ONLY_NEEDS_GTC_LIMIT")]
    wait_for(lambda: _status(p, "bid") == "ACCEPTED", 30, "the resting one", logs)
    assert p.scalar("SELECT post_only FROM orders WHERE order_id = 'bid'") is True
    # only the resting one holds cash: 5 x 99.00
    assert p.scalar("SELECT reserved_cash FROM accounts WHERE account_id = 'alice'") == 49_500

    p.send("order-requests", b"bob", NewOrderRequest(
        order_id="hit", account="bob", symbol="ACME", side="SELL", quantity=5, price=9_900))
    p.flush()
    wait_for(lambda: _status(p, "bid") == "FILLED", 90, "the resting one filled", logs)
    assert p.rows("SELECT buy_order_id, aggressor, price FROM trades") == [
        ("bid", "SELL", 9_900)]  # bob took alice's post-only bid: alice was the maker
    p.assert_reconciled()
