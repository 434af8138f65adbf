"""The invariants of DESIGN.md checked on a running system, one result per invariant.

Database checks run in one REPEATABLE READ transaction so they see one consistent
state; the trades topic is read from the oldest record it still holds (retention deletes
older ones) to its current end.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from sqlalchemy import Engine, text

from engine.status import OrderStatus, order_status
from infra.kafka_client import partition_for
from ledger.tables import OPEN_STATUSES
from schemas.codec import TRADE, DecodeError
from schemas.records import Trade


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    problems: list[str] = field(default_factory=list)


def _check(name: str, problems: list[str], ok_detail: str) -> Check:
    if problems:
        more = f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""
        return Check(name, False, "; ".join(problems[:5]) + more, problems)
    return Check(name, True, ok_detail)


def ledger_checks(engine: Engine) -> list[Check]:
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            q = lambda sql: list(conn.execute(text(sql)))  # noqa: E731
            checks = [
                _check("no negative balance", [
                    f"{r[0]} {r[1]}={r[2]}" for r in q(
                        "SELECT account_id, 'cash', cash FROM accounts WHERE cash < 0 "
                        "UNION ALL SELECT account_id, 'reserved_cash', reserved_cash FROM accounts "
                        "WHERE reserved_cash < 0 UNION ALL SELECT account_id || '/' || symbol, "
                        "'shares', least(quantity, reserved_quantity) FROM holdings "
                        "WHERE quantity < 0 OR reserved_quantity < 0")],
                    "every cash and share balance >= 0"),
                _conservation(q),
                _reservations(q),
                _fills(q),
            ]
    return checks


def _conservation(q) -> Check:
    rows = q("""
        WITH balances AS (
            SELECT 'CASH' AS asset, sum(cash + reserved_cash) AS held FROM accounts
            UNION ALL
            SELECT symbol, sum(quantity + reserved_quantity) FROM holdings GROUP BY symbol),
        flows AS (SELECT asset, sum(amount) AS net FROM adjustments GROUP BY asset)
        SELECT coalesce(b.asset, f.asset), coalesce(b.held, 0), coalesce(f.net, 0)
        FROM balances b FULL JOIN flows f ON b.asset = f.asset""")
    problems = [f"{asset}: held {held} but deposits-withdrawals {net}"
                for asset, held, net in rows if held != net]
    return _check("conservation per asset", problems,
                  f"{len(rows)} assets: held == deposits - withdrawals")


def _reservations(q) -> Check:
    problems = [f"account {r[0]} reserves {r[1]} cash, its open orders {r[2]}" for r in q("""
        SELECT a.account_id, a.reserved_cash, coalesce(sum(o.reserved_cash), 0)
        FROM accounts a LEFT JOIN orders o ON o.account_id = a.account_id
        GROUP BY a.account_id, a.reserved_cash
        HAVING a.reserved_cash <> coalesce(sum(o.reserved_cash), 0)""")]
    problems += [f"holding {r[0]}/{r[1]} reserves {r[2]} shares, its open sells {r[3]}" for r in q("""
        SELECT h.account_id, h.symbol, h.reserved_quantity, coalesce(sum(o.reserved_quantity), 0)
        FROM holdings h LEFT JOIN orders o
          ON o.account_id = h.account_id AND o.symbol = h.symbol AND o.side = 'SELL'
        GROUP BY h.account_id, h.symbol, h.reserved_quantity
        HAVING h.reserved_quantity <> coalesce(sum(o.reserved_quantity), 0)""")]
    problems += [f"holding {r[0]}/{r[1]} counts {r[2]} shares of open buys, its open buy "
                 f"orders {r[3]}" for r in q("""
        SELECT coalesce(h.account_id, b.account_id), coalesce(h.symbol, b.symbol),
               h.open_buy_quantity, coalesce(b.q, 0)
        FROM holdings h FULL JOIN (
            SELECT account_id, symbol, sum(quantity - filled_quantity - cancelled_quantity) AS q
            FROM orders WHERE side = 'BUY' AND status IN """ + OPEN_STATUSES + """
            GROUP BY account_id, symbol) b
          ON b.account_id = h.account_id AND b.symbol = h.symbol
        WHERE h.open_buy_quantity IS DISTINCT FROM coalesce(b.q, 0)""")]
    problems += [f"order {r[0]} ({r[1]}) holds {r[2]} cash and {r[3]} shares, "
                 f"can still spend {r[4]}" for r in q("""
        SELECT order_id, status, reserved_cash, reserved_quantity, expected FROM (
            SELECT *, CASE WHEN status = 'REJECTED' AND cancelled_quantity = 0 THEN 0
                           ELSE quantity - filled_quantity - cancelled_quantity END
                      * CASE WHEN side = 'BUY' THEN price ELSE 1 END AS expected
            FROM orders) o
        WHERE (side = 'BUY' AND (reserved_cash <> expected OR reserved_quantity <> 0))
           OR (side = 'SELL' AND (reserved_quantity <> expected OR reserved_cash <> 0))""")]
    return _check("reserved == what open orders can still spend", problems,
                  "accounts, holdings and orders agree")


def _fills(q) -> Check:
    rows = q("""
        WITH fills AS (
            SELECT buy_order_id AS order_id, sum(quantity) AS qty FROM trades GROUP BY 1
            UNION ALL
            SELECT sell_order_id, sum(quantity) FROM trades GROUP BY 1)
        SELECT o.order_id, o.quantity, o.filled_quantity, o.cancelled_quantity, o.status,
               coalesce(sum(f.qty), 0)
        FROM orders o LEFT JOIN fills f ON f.order_id = o.order_id
        GROUP BY o.order_id""")
    problems = []
    for order_id, quantity, filled, cancelled, status, traded in rows:
        if filled != traded:
            problems.append(f"order {order_id}: filled {filled} but its trades sum to {traded}")
        elif status != OrderStatus.REJECTED and status != order_status(quantity, filled, cancelled):
            problems.append(f"order {order_id}: status {status} with {filled}/{quantity} filled, "
                            f"{cancelled} cancelled")
    return _check("filled quantity == sum of trades, status follows", problems,
                  f"{len(rows)} orders agree with their trades")


@dataclass
class TopicTrades:
    trades: dict[str, Trade]  # by trade id
    lows: dict[int, int]  # low watermark by partition: > 0 once older records were deleted
    problems: list[str]
    first_seq: dict[str, int] = field(init=False)  # the oldest seq left, by symbol

    def __post_init__(self) -> None:
        self.first_seq = {}
        for t in self.trades.values():
            self.first_seq[t.symbol] = min(t.seq, self.first_seq.get(t.symbol, t.seq))

    def before_retention(self, symbol: str, seq: int) -> bool:
        """Whether a trade of `symbol` would be older than what the topic still holds: its
        partition lost records and the symbol's oldest trade left there is later (or none
        is left). Within a symbol, seq grows with the offset; keys are symbols (murmur2)."""
        if self.lows.get(partition_for(symbol.encode(), len(self.lows)), 0) == 0:
            return False
        first = self.first_seq.get(symbol)
        return first is None or seq < first


def read_topic_trades(bootstrap: str, topic: str, timeout: float = 30.0) -> TopicTrades:
    """Every trade the topic still holds, by id, and the problems found (conflicting
    duplicates)."""
    # earliest: records that retention deletes while this reads are skipped, not waited for
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reconcile-{uuid.uuid4()}",
                         "enable.auto.commit": False, "isolation.level": "read_committed",
                         "auto.offset.reset": "earliest"})
    try:
        meta = consumer.list_topics(topic, timeout=timeout).topics[topic]
        lows, ends = {}, {}
        for p in meta.partitions:
            lows[p], high = _watermarks(consumer, TopicPartition(topic, p), timeout)
            if high > lows[p]:
                ends[p] = high
        consumer.assign([TopicPartition(topic, p, lows[p]) for p in ends])
        trades: dict[str, Trade] = {}
        problems: list[str] = []
        done: set[int] = set()
        while len(done) < len(ends):
            msg = consumer.poll(timeout)
            if msg is None:
                problems.append(f"trades topic: stopped reading before its end ({ends})")
                break
            if msg.error():
                continue
            record = TRADE.decode(msg.value())
            if isinstance(record, DecodeError):
                pass  # not a trade: settlement dead-letters it, nothing to settle
            elif record.trade_id in trades and trades[record.trade_id] != record:
                problems.append(f"trade {record.trade_id} appears twice with different content")
            else:
                trades[record.trade_id] = record
            if msg.offset() + 1 >= ends[msg.partition()]:
                done.add(msg.partition())
        # again: what retention deleted during the read counts as deleted
        lows = {p: _watermarks(consumer, TopicPartition(topic, p), timeout)[0] for p in lows}
        return TopicTrades(trades, lows, problems)
    finally:
        consumer.close()


_NO_LEADER_YET = {KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
                  KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._TIMED_OUT}


def _watermarks(consumer: Consumer, tp: TopicPartition, timeout: float) -> tuple[int, int]:
    """Low and high offsets, retrying while a new partition has no leader yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return consumer.get_watermark_offsets(tp, timeout=timeout)
        except KafkaException as exc:
            if exc.args[0].code() not in _NO_LEADER_YET or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def trades_settled_once(engine: Engine, bootstrap: str, topic: str) -> Check:
    """Both ways: every trade in the topic settled as it is there, and every settled trade
    in the topic, unless retention has deleted it since."""
    held = read_topic_trades(bootstrap, topic)
    trades, problems = held.trades, held.problems
    with engine.connect() as conn:
        rows = {r[0]: r for r in conn.execute(text(
            "SELECT trade_id, symbol, seq, price, quantity, buy_order_id, sell_order_id, "
            "buyer, seller FROM trades"))}
    for trade_id, t in trades.items():
        row = rows.get(trade_id)
        if row is None:
            problems.append(f"trade {trade_id} is in the topic but not settled")
        elif tuple(row[1:]) != (t.symbol, t.seq, t.price, t.quantity, t.buy_order_id,
                                t.sell_order_id, t.buyer, t.seller):
            problems.append(f"trade {trade_id} settled with other content than the topic's")
    older = 0
    for trade_id, row in rows.items():
        if trade_id in trades:
            continue
        if held.before_retention(row.symbol, row.seq):
            older += 1
        else:
            problems.append(f"trade {trade_id} is settled but not in the topic")
    detail = f"{len(trades)} trades in the topic, {len(rows)} settled, one row each"
    if older:
        detail += f"; {older} settled before the topic's retention"
    return _check("every trade in the topic settled exactly once", problems, detail)


def reconcile(engine: Engine, bootstrap: str, trades_topic: str) -> list[Check]:
    return [*ledger_checks(engine), trades_settled_once(engine, bootstrap, trades_topic)]
