"""`reconcile` catches each kind of breach, and the ledger refuses a negative balance."""

from __future__ import annotations

import pytest
from confluent_kafka import TopicPartition
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from infra import topics
from infra.kafka_client import partition_for
from schemas.records import NewOrderRequest, Trade
from tests.platform import wait_for

SETTLED_ONCE = "every trade in the topic settled exactly once"


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

    execute(p, "UPDATE holdings SET open_buy_quantity = 3")  # no open buy order
    assert failed(p) == {"reserved == what open orders can still spend":
                         "holding alice/ACME counts 3 shares of open buys, its open buy orders 0"}
    execute(p, "UPDATE holdings SET open_buy_quantity = 0")

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


def order(order_id: str, account: str, symbol: str, side: str, quantity: int) -> NewOrderRequest:
    return NewOrderRequest(order_id=order_id, account=account, symbol=symbol, side=side,
                           quantity=quantity, price=10_000)


def trade_ends(p) -> dict[int, int]:
    """High watermark of each partition of the trades topic."""
    consumer = p.consumer("trades")
    try:
        return {n: consumer.get_watermark_offsets(TopicPartition(p.topic("trades"), n),
                                                  timeout=30)[1]
                for n in range(topics.BY_NAME["trades"].partitions)}
    finally:
        consumer.close()


def test_trades_older_than_the_topic_are_not_problems(platform):
    """Retention deletes the trades topic's older records: settled trades before what the
    topic still holds are no problem, every trade still in it is checked both ways."""
    p = platform
    # ACME and BOLT trade on partitions 1 and 2; FLUX would be on 0, which keeps its records
    assert [partition_for(s, 4) for s in (b"ACME", b"BOLT", b"FLUX")] == [1, 2, 0]
    for symbol in ("ACME", "BOLT", "FLUX"):
        p.symbol(symbol)
    p.account("alice", ACME=100, BOLT=100)
    p.account("bob", cash=10_000_000)
    worker = p.start_worker()

    def trade(*requests, settled: int) -> None:
        for request in requests:
            p.send("order-requests", request.account, request)
        p.flush()
        wait_for(lambda: p.scalar("SELECT count(*) FROM trades") == settled, 120,
                 f"{settled} trades settled", [worker.log_path])

    for symbol in ("ACME", "BOLT"):
        p.send("order-requests", "alice", order(f"{symbol}-s", "alice", symbol, "SELL", 20))
    p.flush()
    wait_for(lambda: p.scalar("SELECT count(*) FROM orders") == 2, 120, "the sells accepted",
             [worker.log_path])
    trade(*(order(f"{s}-b{n}", "bob", s, "BUY", 3) for s in ("ACME", "BOLT") for n in (1, 2)),
          settled=4)
    p.assert_reconciled()
    old = trade_ends(p)
    trade(order("ACME-b3", "bob", "ACME", "BUY", 3), order("ACME-b4", "bob", "ACME", "BUY", 3),
          settled=6)
    p.assert_reconciled()

    # retention: every record older than the last two trades is deleted
    admin = topics.admin(p.settings)
    deleted = admin.delete_records(
        [TopicPartition(p.topic("trades"), n, end) for n, end in old.items() if end > 0])
    lows = {tp.partition: f.result(30).low_watermark for tp, f in deleted.items()}
    assert lows == {n: end for n, end in old.items() if end > 0} and set(lows) == {1, 2}
    checks = {c.name: c for c in p.reconcile()}
    assert [name for name, c in checks.items() if not c.ok] == []
    assert checks[SETTLED_ONCE].detail == (
        "2 trades in the topic, 6 settled, one row each; "
        "4 settled before the topic's retention")

    # a trade still in the topic and not settled is still caught
    newest = p.scalar("SELECT trade_id FROM trades WHERE symbol = 'ACME' ORDER BY seq DESC")
    execute(p, f"DELETE FROM trades WHERE trade_id = '{newest}'")
    assert failed(p)[SETTLED_ONCE] == f"trade {newest} is in the topic but not settled"
    # so is a settled trade after what the topic holds, or of a partition that lost nothing
    execute(p, "INSERT INTO trades (trade_id, symbol, seq, price, quantity, buy_order_id, "
               "sell_order_id, buyer, seller, aggressor, executed_ms) VALUES "
               "('ACME-x', 'ACME', 1000, 10000, 1, 'x-b', 'x-s', 'bob', 'alice', 'BUY', 1), "
               "('FLUX-1', 'FLUX', 1, 10000, 1, 'y-b', 'y-s', 'bob', 'alice', 'BUY', 1)")
    problems = next(c.problems for c in p.reconcile() if c.name == SETTLED_ONCE)
    assert sorted(problems) == [f"trade {newest} is in the topic but not settled",
                                "trade ACME-x is settled but not in the topic",
                                "trade FLUX-1 is settled but not in the topic"]
