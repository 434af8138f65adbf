"""The chain is real: confluent-kafka producer -> Faust agent -> SQLAlchemy -> PostgreSQL."""

from __future__ import annotations

from schemas.records import NewOrderRequest
from tests.platform import wait_for


def test_order_request_travels_from_kafka_into_postgres(platform):
    platform.symbol("ACME", reference_price=10_000)
    platform.account("alice", cash=1_000_000)
    worker = platform.start_worker()

    platform.send("order-requests", b"alice", NewOrderRequest(
        order_id="o-1", account="alice", symbol="ACME", side="BUY", quantity=10, price=9_900))
    platform.flush()

    row = wait_for(lambda: platform.rows(
        "SELECT status, quantity, price, reserved_cash FROM orders WHERE order_id = 'o-1'"),
        timeout=90, what="the order row written by the gate", logs=[worker.log_path])
    assert tuple(row[0]) == ("ACCEPTED", 10, 9_900, 99_000)
    assert platform.scalar("SELECT cash FROM accounts WHERE account_id = 'alice'") == 901_000
