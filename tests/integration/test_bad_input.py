"""Bad input on every topic the platform reads never stops it.

Each record a client or a broken producer could write to the topics the pipeline reads
(order-requests, orders, matcher-results) ends as either a typed rejection (an
order-events record REJECTED / CANCEL_REJECTED with a reason from engine.enums.Reject)
or a dead letter on
`dead-letters` naming the source topic, partition and offset; and every good order
sent around the bad records is still accepted, matched and settled. One worker per
test; many cases per test. The last test sends records that decode but can never be
applied (poison pills): each is dead-lettered or rejected and its agent goes on.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

import pytest
from confluent_kafka import Producer, TopicPartition

from engine.enums import Reject
from infra.kafka_client import producer_config
from infra.settings import REPO_ROOT
from schemas.codec import DEAD_LETTER, ORDER_EVENT, DecodeError, encode
from schemas.records import (
    AcceptedOrder,
    CancelRequest,
    Halt,
    MatcherResults,
    NewOrderRequest,
    OrderBatch,
    OrderEvent,
    Trade,
)
from tests.platform import Platform, consume, wait_for

WAIT = 60  # seconds: an upper bound for something to appear, never a performance claim


@pytest.fixture(autouse=True)
def own_web_port(monkeypatch):
    """Faust workers bind a web port (6066 by default) even with the web disabled: give
    each worker a free one so these tests can run beside other test sessions."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        monkeypatch.setenv("F_WEB_PORT", str(s.getsockname()[1]))


def order(order_id, account, symbol, side, quantity, price=None, order_type="LIMIT",
          tif="GTC") -> NewOrderRequest:
    return NewOrderRequest(order_id=order_id, account=account, symbol=symbol, side=side,
                           quantity=quantity, price=price, order_type=order_type, tif=tif)


def raw_order(**fields) -> bytes:
    """A new-order request as JSON, with any field replaced by any JSON value."""
    body = {"kind": "new", "order_id": "x", "account": "bob", "symbol": "ACME", "side": "BUY",
            "quantity": 1, "order_type": "LIMIT", "tif": "GTC", "price": 10_000}
    body.update(fields)
    return json.dumps(body).encode()


@dataclass
class Sent:
    """Where the broker put a record we produced (filled in by the delivery report)."""

    topic: str
    partition: int = -1
    offset: int = -1
    error: object = None


def send_at(p: Platform, topic: str, key, value) -> Sent:
    raw = value if isinstance(value, bytes) or value is None else encode(value)
    sent = Sent(p.topic(topic))

    def delivered(err, msg) -> None:
        sent.error = err
        if err is None:
            sent.partition, sent.offset = msg.partition(), msg.offset()

    p.producer.produce(p.topic(topic), key=key, value=raw, on_delivery=delivered)
    return sent


def flush(p: Platform, *sent: Sent) -> None:
    p.flush()
    for s in sent:
        assert s.error is None and s.offset >= 0, f"not delivered to {s.topic}: {s.error}"


@dataclass
class Feed:
    """Everything the platform says on order-events and dead-letters, as it arrives."""

    p: Platform
    logs: list
    events: list = field(default_factory=list)
    letters: list = field(default_factory=list)
    junk: list = field(default_factory=list)  # undecodable order-events

    def __post_init__(self) -> None:
        self.consumer = self.p.consumer("order-events", "dead-letters")
        self.dead_topic = self.p.topic("dead-letters")

    def drain(self) -> None:
        while True:
            msg = self.consumer.poll(0.05)
            if msg is None:
                return
            assert msg.error() is None, msg.error()
            if msg.topic() == self.dead_topic:
                letter = DEAD_LETTER.decode(msg.value())
                assert not isinstance(letter, DecodeError), letter
                self.letters.append(letter)
            else:
                event = ORDER_EVENT.decode(msg.value())
                if isinstance(event, DecodeError):
                    self.junk.append(event)  # only the internal-topics test writes these
                    continue
                assert msg.key() == event.account.encode(), "order-events are keyed by account"
                self.events.append(event)

    def wait(self, predicate, what: str):
        def check():
            self.drain()
            return predicate()
        return wait_for(check, WAIT, what, self.logs)

    def of(self, order_id: str, account: str | None = None) -> list[OrderEvent]:
        return [e for e in self.events
                if e.order_id == order_id and (account is None or e.account == account)]

    def status(self, order_id: str, status: str, account: str | None = None) -> OrderEvent:
        return self.wait(lambda: next((e for e in self.of(order_id, account)
                                       if e.status == status), None),
                         f"{status} event for order {order_id!r}")

    def rejection(self, order_id: str, account: str, status: str = "REJECTED") -> OrderEvent:
        event = self.status(order_id, status, account)
        assert event.reason is not None and Reject(event.reason), event
        return event

    def letter_for(self, sent: Sent):
        return self.wait(lambda: next((d for d in self.letters
                                       if (d.topic, d.partition, d.offset)
                                       == (sent.topic, sent.partition, sent.offset)), None),
                         f"dead letter for {sent.topic}[{sent.partition}]@{sent.offset}")

    def all_dead_letters(self) -> list:
        """The dead-letters topic from its start to its current end."""
        consumer = self.p.consumer("dead-letters")
        try:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(self.dead_topic, 0), timeout=30)
            return [DEAD_LETTER.decode(m.value()) for m in consume(consumer, high - low, WAIT)]
        finally:
            consumer.close()


def status_of(p: Platform, order_id: str) -> str | None:
    return p.scalar("SELECT status FROM orders WHERE order_id = :id", id=order_id)


def wait_status(p: Platform, feed: Feed, order_id: str, status: str) -> None:
    wait_for(lambda: status_of(p, order_id) == status, WAIT,
             f"order {order_id} {status} in the ledger", feed.logs)


def cash(p: Platform, account: str) -> tuple[int, int]:
    return tuple(p.rows("SELECT cash, reserved_cash FROM accounts WHERE account_id = :a",
                        a=account)[0])


def shares(p: Platform, account: str, symbol: str) -> tuple[int, int]:
    rows = p.rows("SELECT quantity, reserved_quantity FROM holdings "
                  "WHERE account_id = :a AND symbol = :s", a=account, s=symbol)
    return tuple(rows[0]) if rows else (0, 0)


GOOD = order("g-sell", "alice", "ACME", "SELL", 10, 10_000)


def alice_and_bob(p: Platform):
    """ACME at $100.00, alice with 100 shares, bob with $100,000, and a worker."""
    p.symbol("ACME", reference_price=10_000)
    p.account("alice", cash=0, ACME=100)
    p.account("bob", cash=10_000_000)
    worker = p.start_worker()
    return worker, Feed(p, [worker.log_path])


# -- order-requests: every kind of bad request ------------------------------------------

def test_order_requests_bad_input_is_rejected_or_dead_lettered(platform):
    p = platform
    p.symbol("ACME", reference_price=10_000)
    p.symbol("FIVE", reference_price=10_000, tick_size=5)
    p.symbol("TINY", reference_price=1_000, shares_outstanding=1_000)  # 5% = 50 shares
    p.account("alice", cash=0, ACME=1_000)
    p.account("bob", cash=10_000_000)     # $100,000.00
    p.account("poor", cash=100)           # $1.00
    p.account("whale", cash=10_000_000)
    worker = p.start_worker()
    feed = Feed(p, [worker.log_path])

    # a good order first ...
    first = send_at(p, "order-requests", b"alice", GOOD)
    flush(p, first)
    feed.status("g-sell", "ACCEPTED")

    # ... then every bad request: (key, value) -> a dead letter
    truncated = encode(order("trunc", "bob", "ACME", "BUY", 1, 10_000))
    undecodable = {
        "garbage bytes": b"\x00\xff\xfe not json at all \x9c",
        "truncated JSON": truncated[: len(truncated) // 2],
        "empty value (None)": None,
        "empty bytes": b"",
        "JSON null": b"null",
        "string quantity": raw_order(order_id="d-str", quantity="10"),
        "float quantity": raw_order(order_id="d-float", quantity=1.5),
        "list instead of object": json.dumps(
            ["new", "d-list", "bob", "ACME", "BUY", 1, "LIMIT", "GTC", 10_000]).encode(),
        "number instead of object": b"42",
        "no kind tag": json.dumps({"order_id": "d-nokind", "account": "bob", "symbol": "ACME",
                                   "side": "BUY", "quantity": 1, "price": 10_000}).encode(),
        "unknown kind": raw_order(kind="modify", order_id="d-kind"),
        "missing quantity": json.dumps({"kind": "new", "order_id": "d-noqty", "account": "bob",
                                        "symbol": "ACME", "side": "BUY"}).encode(),
        "order id not a string": raw_order(order_id=12345),
        "price a string": raw_order(order_id="d-pricestr", price="100.00"),
        "price a float": raw_order(order_id="d-pricefloat", price=100.5),
        "boolean quantity": raw_order(order_id="d-bool", quantity=True),
        "cancel without order id": json.dumps({"kind": "cancel", "account": "bob"}).encode(),
    }
    letters = {what: send_at(p, "order-requests", b"bob", value)
               for what, value in undecodable.items()}
    letters["no key, garbage"] = send_at(p, "order-requests", None, b"{{{{")

    # ... and every well-formed but wrong request: (order_id, account) -> reason
    def new(order_id, account="bob", symbol="ACME", side="BUY", quantity=1, price=10_000,
            order_type="LIMIT", tif="GTC"):
        return raw_order(order_id=order_id, account=account, symbol=symbol, side=side,
                         quantity=quantity, price=price, order_type=order_type, tif=tif)

    bad = {
        ("r-zero", "bob"): (new("r-zero", quantity=0), Reject.BAD_QUANTITY),
        ("r-neg", "bob"): (new("r-neg", quantity=-5), Reject.BAD_QUANTITY),
        ("r-hugeq", "bob"): (new("r-hugeq", quantity=10**30), Reject.BAD_QUANTITY),
        ("r-int64q", "bob"): (new("r-int64q", quantity=2**63), Reject.BAD_QUANTITY),
        ("r-hugep", "bob"): (new("r-hugep", price=10**30), Reject.BAD_PRICE),
        ("r-zerop", "bob"): (new("r-zerop", price=0), Reject.BAD_PRICE),
        ("r-negp", "bob"): (new("r-negp", price=-10_000), Reject.BAD_PRICE),
        ("r-nop", "bob"): (new("r-nop", price=None), Reject.BAD_PRICE),
        ("r-tick", "bob"): (new("r-tick", symbol="FIVE", price=10_003), Reject.OFF_TICK),
        ("r-mktp", "bob"): (new("r-mktp", order_type="MARKET", price=10_000), Reject.BAD_PRICE),
        ("r-sym", "bob"): (new("r-sym", symbol="NOPE"), Reject.UNKNOWN_SYMBOL),
        ("r-acct", "ghost"): (new("r-acct", account="ghost"), Reject.UNKNOWN_ACCOUNT),
        ("r-side", "bob"): (new("r-side", side="HOLD"), Reject.MALFORMED),
        ("r-side-lc", "bob"): (new("r-side-lc", side="buy"), Reject.MALFORMED),
        ("r-type", "bob"): (new("r-type", order_type="STOP"), Reject.MALFORMED),
        ("r-tif", "bob"): (new("r-tif", tif="FOREVER"), Reject.MALFORMED),
        ("", "bob"): (new(""), Reject.MALFORMED),
        ("L" * 65, "bob"): (new("L" * 65), Reject.MALFORMED),
        ("r-funds", "poor"): (new("r-funds", account="poor", quantity=10), Reject.INSUFFICIENT_FUNDS),
        ("r-mkt-funds", "poor"): (new("r-mkt-funds", account="poor", order_type="MARKET",
                                      price=None), Reject.INSUFFICIENT_FUNDS),
        ("r-shares", "bob"): (new("r-shares", side="SELL", quantity=5), Reject.INSUFFICIENT_SHARES),
        ("r-shares-alice", "alice"): (new("r-shares-alice", account="alice", side="SELL",
                                          quantity=991), Reject.INSUFFICIENT_SHARES),
        ("r-limit", "whale"): (new("r-limit", account="whale", symbol="TINY", quantity=51,
                                   price=1_000), Reject.POSITION_LIMIT),
    }
    for (order_id, account), (value, _) in bad.items():
        send_at(p, "order-requests", account.encode(), value)
    # the whale may buy up to 5% of TINY, counting its open buy orders: 50 ok, then 1 more not
    send_at(p, "order-requests", b"whale", order("w-ok", "whale", "TINY", "BUY", 50, 1_000))
    send_at(p, "order-requests", b"whale", new("r-limit2", account="whale", symbol="TINY",
                                               quantity=1, price=1_000))
    bad[("r-limit2", "whale")] = (None, Reject.POSITION_LIMIT)

    # ... and a good order after the bad ones: it trades against the first
    last = send_at(p, "order-requests", b"bob", order("g-buy", "bob", "ACME", "BUY", 10, 10_000))
    flush(p, last, *letters.values())

    for (order_id, account), (_, reason) in bad.items():
        event = feed.rejection(order_id, account)
        assert event.reason == reason, (order_id, event)
        assert event.seq == 0 and event.filled_quantity == 0, event
    for what, sent in letters.items():
        letter = feed.letter_for(sent)
        assert letter.error, what
    assert feed.letter_for(letters["empty value (None)"]).error == "empty record (no value)"
    assert feed.letter_for(letters["garbage bytes"]).key == "bob"
    assert feed.letter_for(letters["no key, garbage"]).key is None
    assert feed.letter_for(letters["no key, garbage"]).value == "{{{{"
    assert feed.letter_for(letters["truncated JSON"]).value == \
        undecodable["truncated JSON"].decode()

    # both good orders accepted, matched and settled; the whale's 50 rest
    feed.status("g-buy", "ACCEPTED")
    feed.status("g-sell", "FILLED")
    feed.status("g-buy", "FILLED")
    feed.status("w-ok", "ACCEPTED")
    wait_status(p, feed, "g-sell", "FILLED")
    wait_status(p, feed, "g-buy", "FILLED")
    assert [tuple(r) for r in p.rows(
        "SELECT price, quantity, buyer, seller FROM trades")] == [(10_000, 10, "bob", "alice")]

    # no rejected request moved money or shares; nothing else became a dead letter
    assert cash(p, "bob") == (10_000_000 - 100_000, 0)
    assert cash(p, "alice") == (100_000, 0)
    assert cash(p, "poor") == (100, 0)
    assert cash(p, "whale") == (10_000_000 - 50_000, 50_000)
    assert shares(p, "alice", "ACME") == (990, 0)
    assert shares(p, "bob", "ACME") == (10, 0)
    assert shares(p, "whale", "TINY") == (0, 0)
    # rejections whose fields fit the orders table are recorded (their id is taken), the
    # others (malformed, unknown symbol or account, bad quantity or price) are not
    recorded = dict(p.rows("SELECT order_id, reject_reason FROM orders WHERE status = 'REJECTED'"))
    assert recorded == {"r-tick": "OFF_TICK", "r-funds": "INSUFFICIENT_FUNDS", "r-mkt-funds": "INSUFFICIENT_FUNDS",
                        "r-shares": "INSUFFICIENT_SHARES", "r-shares-alice": "INSUFFICIENT_SHARES",
                        "r-limit": "POSITION_LIMIT", "r-limit2": "POSITION_LIMIT"}
    assert p.scalar("SELECT sum(reserved_cash + reserved_quantity) FROM orders "
                    "WHERE status = 'REJECTED'") == 0
    dead = feed.all_dead_letters()
    assert sorted((d.topic, d.partition, d.offset) for d in dead) == sorted(
        (s.topic, s.partition, s.offset) for s in letters.values())
    assert feed.junk == []
    p.assert_reconciled()


# -- cancels and duplicate order ids ----------------------------------------------------

def test_bad_cancels_and_duplicate_order_ids(platform):
    p = platform
    p.symbol("ACME", reference_price=10_000)
    p.account("alice", cash=0, ACME=100)
    p.account("bob", cash=10_000_000)
    p.account("mallory", cash=10_000_000, ACME=100)
    worker = p.start_worker()
    feed = Feed(p, [worker.log_path])

    # good: alice's victim order rests, bob's first d1 rests, alice's own order to cancel
    p.send("order-requests", b"alice", order("victim", "alice", "ACME", "SELL", 10, 10_500))
    p.send("order-requests", b"alice", order("a-own", "alice", "ACME", "SELL", 5, 11_000))
    p.send("order-requests", b"bob", order("d1", "bob", "ACME", "BUY", 5, 9_000))
    p.flush()
    for order_id in ("victim", "a-own", "d1"):
        feed.status(order_id, "ACCEPTED")
        wait_status(p, feed, order_id, "ACCEPTED")

    # bad: cancels of someone else's order, unknown ids, by unknown accounts
    p.send("order-requests", b"mallory", CancelRequest(order_id="victim", account="mallory"))
    p.send("order-requests", b"mallory", CancelRequest(order_id="no-such-order", account="mallory"))
    p.send("order-requests", b"ghost", CancelRequest(order_id="victim", account="ghost"))
    p.send("order-requests", b"bob", CancelRequest(order_id="", account="bob"))
    # bad: the same order id again, from two other records (same account, other account);
    # and a fresh id three times within one burst: the second an identical copy (a
    # producer's retry: the same order, no second outcome), the third with other terms
    p.send("order-requests", b"bob", order("d1", "bob", "ACME", "BUY", 7, 9_100))
    p.send("order-requests", b"mallory", order("d1", "mallory", "ACME", "SELL", 5, 9_000))
    p.send("order-requests", b"mallory", order("d2", "mallory", "ACME", "SELL", 1, 20_000))
    p.send("order-requests", b"mallory", order("d2", "mallory", "ACME", "SELL", 1, 20_000))
    p.send("order-requests", b"mallory", order("d2", "mallory", "ACME", "SELL", 1, 20_100))
    # good: alice cancels her own order
    p.send("order-requests", b"alice", CancelRequest(order_id="a-own", account="alice"))
    p.flush()

    not_owner = feed.rejection("victim", "mallory", "CANCEL_REJECTED")
    assert not_owner.reason == Reject.NOT_OWNER
    assert not_owner.symbol == "", "someone else's order must not be disclosed"
    assert feed.rejection("victim", "ghost", "CANCEL_REJECTED").reason == Reject.NOT_OWNER
    assert feed.rejection("no-such-order", "mallory", "CANCEL_REJECTED").reason == \
        Reject.UNKNOWN_ORDER
    assert feed.rejection("", "bob", "CANCEL_REJECTED").reason == Reject.MALFORMED
    feed.wait(lambda: [e for e in feed.of("d1", "bob") if e.status == "REJECTED"],
              "bob's duplicate d1 rejected")
    dup_same = [e for e in feed.of("d1", "bob") if e.status == "REJECTED"]
    assert [e.reason for e in dup_same] == [Reject.DUPLICATE_ORDER_ID]
    assert feed.rejection("d1", "mallory").reason == Reject.DUPLICATE_ORDER_ID
    feed.status("d2", "ACCEPTED", "mallory")
    assert feed.rejection("d2", "mallory").reason == Reject.DUPLICATE_ORDER_ID
    assert [(e.status, e.reason) for e in feed.of("d2", "mallory")] == [
        ("ACCEPTED", None), ("REJECTED", Reject.DUPLICATE_ORDER_ID)]
    feed.status("a-own", "CANCELLED", "alice")
    wait_status(p, feed, "a-own", "CANCELLED")

    # the first d1 is unaffected: one row, bob's, its reservation and terms intact
    assert [tuple(r) for r in p.rows(
        "SELECT account_id, side, quantity, price, status, reserved_cash FROM orders "
        "WHERE order_id = 'd1'")] == [("bob", "BUY", 5, 9_000, "ACCEPTED", 45_000)]
    assert cash(p, "bob") == (10_000_000 - 45_000, 45_000)
    assert shares(p, "mallory", "ACME") == (99, 1)  # only d2's first record reserved
    # the victim stays open, in the ledger and in the book: bob can still buy from it
    assert status_of(p, "victim") == "ACCEPTED"
    p.send("order-requests", b"bob", order("g-buy", "bob", "ACME", "BUY", 10, 10_500))
    # and alice's 5 more shares fill bob's original d1 at its price and size
    p.send("order-requests", b"alice", order("g-sell", "alice", "ACME", "SELL", 5, 9_000))
    p.flush()
    feed.status("victim", "FILLED", "alice")
    feed.status("d1", "FILLED", "bob")
    for order_id in ("victim", "g-buy", "d1", "g-sell"):
        wait_status(p, feed, order_id, "FILLED")
    assert sorted(tuple(r) for r in p.rows(
        "SELECT buy_order_id, sell_order_id, price, quantity FROM trades")) == [
        ("d1", "g-sell", 9_000, 5), ("g-buy", "victim", 10_500, 10)]

    # a cancel of a filled order is refused too
    p.send("order-requests", b"alice", CancelRequest(order_id="victim", account="alice"))
    p.flush()
    assert feed.rejection("victim", "alice", "CANCEL_REJECTED").reason == Reject.UNKNOWN_ORDER
    assert feed.all_dead_letters() == []
    assert feed.junk == []
    p.assert_reconciled()


# -- the internal topics: orders, trades, order-events, halts ---------------------------

def results(symbol: str, trades=(), releases=(), halts=()) -> MatcherResults:
    """A `matcher-results` record, as the matcher writes one per symbol and batch."""
    return MatcherResults(symbol, list(trades), list(releases), list(halts))


def trade_pair(p: Platform, feed: Feed, tag: str, price: int = 10_000) -> None:
    """alice sells 10 ACME to bob; wait until both orders are filled in the ledger."""
    p.send("order-requests", b"alice", order(f"{tag}-sell", "alice", "ACME", "SELL", 10, price))
    p.send("order-requests", b"bob", order(f"{tag}-buy", "bob", "ACME", "BUY", 10, price))
    p.flush()
    for order_id in (f"{tag}-sell", f"{tag}-buy"):
        feed.status(order_id, "FILLED")
        wait_status(p, feed, order_id, "FILLED")


TRADES_CHECK = "every trade in the topic settled exactly once"


def assert_reconciled_besides(p: Platform, also: tuple = (), wait: float = 30.0):
    """p.assert_reconciled(), except that exactly the trades-topic problems in `also` (a
    trade injected behind the gate's back) must be reported. Undecodable records on the
    trades topic are dead-lettered by settlement and are not trades: never reported."""
    expected = sorted(also)
    deadline = time.monotonic() + wait
    while True:
        checks = p.reconcile()
        failed = [c for c in checks if not c.ok and c.name != TRADES_CHECK]
        trades = next(c for c in checks if c.name == TRADES_CHECK)
        reported = sorted(problem.split(":")[0] for problem in trades.problems)
        if not failed and reported == expected:
            return
        if time.monotonic() > deadline:
            raise AssertionError("invariants violated:\n" + "\n".join(
                f"{c.name}: {c.problems or c.detail}" for c in failed + [trades]))
        time.sleep(0.5)


def test_internal_topics_dead_letter_garbage_and_keep_going(platform):
    p = platform
    p.symbol("ACME", reference_price=10_000)
    p.symbol("HALTME", reference_price=10_000)
    p.account("alice", cash=0, ACME=100)
    p.account("bob", cash=10_000_000)
    worker = p.start_worker()
    feed = Feed(p, [worker.log_path])

    trade_pair(p, feed, "before")
    now = int(time.time() * 1000)
    samples = {
        "orders": encode(OrderBatch("ACME", [AcceptedOrder(
            order_id="x", account="bob", symbol="ACME", side="BUY", order_type="LIMIT",
            tif="GTC", quantity=1, price=10_000, ts=now)])),
        "matcher-results": encode(results(
            "ACME", trades=[Trade(trade_id="t-x", symbol="ACME", seq=99, price=10_000,
                                  quantity=1, buy_order_id="before-buy",
                                  sell_order_id="before-sell", buyer="bob", seller="alice",
                                  maker_order_id="before-sell", aggressor="BUY", ts=now)],
            releases=[OrderEvent(order_id="before-buy", account="bob", symbol="ACME",
                                 status="CANCELLED", ts=now, remaining_quantity=10, seq=99)],
            halts=[Halt(symbol="ACME", halted=True, ts=now, until_ts=now + 3_600_000)])),
    }
    letters = []
    for topic, sample in samples.items():
        letters += [
            send_at(p, topic, b"ACME", b"\x00\xff garbage \xfe"),
            send_at(p, topic, b"ACME", sample[: len(sample) // 2]),   # truncated
            send_at(p, topic, b"ACME", None),                          # empty value
            send_at(p, topic, b"ACME", b"[1, 2, 3]"),                  # list, not object
            send_at(p, topic, b"ACME", sample.replace(b'"ACME"', b'["ACME"]')),  # wrong type
        ]
    flush(p, *letters)
    for sent in letters:
        assert feed.letter_for(sent).error

    # every agent still works after the garbage: the gate and matcher (a new trade),
    # trade settlement, the release of a cancelled remainder, and the halt recorder
    trade_pair(p, feed, "after")
    p.send("order-requests", b"bob", order("rest", "bob", "ACME", "BUY", 3, 9_000))
    p.flush()
    wait_status(p, feed, "rest", "ACCEPTED")
    p.send("order-requests", b"bob", CancelRequest(order_id="rest", account="bob"))
    p.send("matcher-results", b"HALTME", results("HALTME", halts=[
        Halt(symbol="HALTME", halted=True, ts=now, until_ts=now + 3_600_000)]))
    p.flush()
    wait_status(p, feed, "rest", "CANCELLED")
    wait_for(lambda: p.scalar("SELECT halted_until_ms FROM symbols WHERE symbol = 'HALTME'")
             == now + 3_600_000, WAIT, "the good halt recorded", feed.logs)
    p.send("order-requests", b"bob", order("halted", "bob", "HALTME", "BUY", 1, 10_000))
    p.flush()
    assert feed.rejection("halted", "bob").reason == Reject.HALTED

    assert p.scalar("SELECT halted_until_ms FROM symbols WHERE symbol = 'ACME'") == 0
    assert sorted(tuple(r) for r in p.rows(
        "SELECT buy_order_id, sell_order_id, quantity FROM trades")) == [
        ("after-buy", "after-sell", 10), ("before-buy", "before-sell", 10)]
    assert cash(p, "bob") == (10_000_000 - 200_000, 0)
    assert cash(p, "alice") == (200_000, 0)
    assert shares(p, "bob", "ACME") == (20, 0)
    dead = feed.all_dead_letters()
    assert sorted((d.topic, d.partition, d.offset) for d in dead) == sorted(
        (s.topic, s.partition, s.offset) for s in letters)
    assert_reconciled_besides(p)



# -- well-formed records that can never be processed (poison pills) ---------------------

POISON_WAIT = 10  # s: a healthy worker answers within about a second; a stuck agent never does


def test_unprocessable_records_do_not_stall_any_agent(platform):
    p = platform
    p.symbol("ACME", reference_price=10_000)
    p.symbol("HALTME", reference_price=10_000)
    p.account("alice", cash=0, ACME=100)
    p.account("bob", cash=10_000_000)
    p.account("carol", cash=10_000_000)
    worker = p.start_worker()
    feed = Feed(p, [worker.log_path])
    p.send("order-requests", b"bob", order("rest", "bob", "ACME", "BUY", 3, 9_000))
    p.send("order-requests", b"bob", order("rest2", "bob", "ACME", "BUY", 2, 9_000))
    p.flush()
    for order_id in ("rest", "rest2"):
        wait_status(p, feed, order_id, "ACCEPTED")
    now = int(time.time() * 1000)

    # internal topics: records that decode but that the ledger can never apply ...
    over_release = send_at(p, "matcher-results", b"ACME", results("ACME", releases=[OrderEvent(
        order_id="rest", account="bob", symbol="ACME", status="CANCELLED", ts=now,
        reason="USER", remaining_quantity=1_000, seq=1_000)]))  # rest has only 3
    huge_halt = send_at(p, "matcher-results", b"ACME", encode(results("ACME", halts=[
        Halt(symbol="ACME", halted=True, ts=now, until_ts=now)])).replace(
        b'"until_ts":%d' % now, b'"until_ts":%d' % 10**30))
    flush(p, over_release, huge_halt)
    # ... then good work for each of those agents
    p.send("order-requests", b"bob", CancelRequest(order_id="rest2", account="bob"))
    p.send("matcher-results", b"HALTME", results("HALTME", halts=[
        Halt(symbol="HALTME", halted=True, ts=now, until_ts=now + 3_600_000)]))
    p.flush()
    pending = {
        "settle-order-events (after an event releasing more than the order holds)":
            lambda: status_of(p, "rest2") == "CANCELLED",
        "record-halts (after a halt ending past BIGINT)":
            lambda: p.scalar("SELECT halted_until_ms FROM symbols WHERE symbol = 'HALTME'")
            == now + 3_600_000,
    }
    deadline = time.monotonic() + POISON_WAIT
    while pending and time.monotonic() < deadline:
        pending = {what: done for what, done in pending.items() if not done()}
        time.sleep(0.25)
    stalled = list(pending)

    # order-requests: a NUL character, which no PostgreSQL text value can hold
    nul = send_at(p, "order-requests", b"bob", order("nul\x00id", "bob", "ACME", "BUY", 1, 9_000))
    flush(p, nul)
    p.send("order-requests", b"carol", order("late", "carol", "ACME", "BUY", 1, 9_000))
    p.flush()
    deadline = time.monotonic() + POISON_WAIT
    while status_of(p, "late") != "ACCEPTED" and time.monotonic() < deadline:
        time.sleep(0.25)
    if status_of(p, "late") != "ACCEPTED":
        stalled.append("gate (after an order id with a NUL character)")
    assert not stalled, f"agents stalled by one unprocessable record: {stalled}"

    # each unprocessable record is answered: a dead letter, or a typed rejection
    feed.letter_for(over_release)
    feed.letter_for(huge_halt)
    feed.wait(lambda: any((d.topic, d.partition, d.offset) == (nul.topic, nul.partition,
                                                                nul.offset) for d in feed.letters)
              or any(e.status == "REJECTED" and Reject(e.reason)
                     for e in feed.of("nul\x00id", "bob")),
              "a dead letter or a rejection for the order id with a NUL character")
    assert status_of(p, "rest") == "ACCEPTED"
    assert cash(p, "bob") == (10_000_000 - 27_000, 27_000)  # rest; rest2 released
    assert_reconciled_besides(p)


def test_a_trade_that_cannot_settle_stops_settlement_until_an_operator_skips_it(platform):
    """A valid trade is never dead-lettered on settlement's own say: the ledger must never
    silently diverge from the books. Settlement stops, says so in its log and metrics,
    and goes on once an operator has chosen to skip the record."""
    p = platform
    worker, feed = alice_and_bob(p)
    p.wait_ready(worker)
    ghost = send_at(p, "matcher-results", b"ACME", results("ACME", trades=[Trade(
        trade_id="t-ghost", symbol="ACME", seq=1_000, price=10_000, quantity=1,
        buy_order_id="ghost-buy", sell_order_id="ghost-sell", buyer="bob", seller="alice",
        maker_order_id="ghost-sell", aggressor="BUY", ts=int(time.time() * 1000))]))
    flush(p, ghost)
    blocked = {"stage": "settlement", "reason": "record_refused"}
    wait_for(lambda: p.worker_metric(worker, "matchstream_stage_blocked", **blocked) == 1,
             WAIT, "settlement reported blocked on the trade", feed.logs)
    assert f"STOPPED on {ghost.topic}[{ghost.partition}]@{ghost.offset}".encode() in \
        worker.log_path.read_bytes()

    # the order path goes on; settlement does not (the matcher's fills are on the topic)
    p.send("order-requests", b"alice", order("s1", "alice", "ACME", "SELL", 10, 10_000))
    p.send("order-requests", b"bob", order("b1", "bob", "ACME", "BUY", 10, 10_000))
    p.flush()
    feed.status("b1", "FILLED")
    assert status_of(p, "b1") == "ACCEPTED" and p.scalar("SELECT count(*) FROM trades") == 0
    assert not any((d.topic, d.offset) == (ghost.topic, ghost.offset) for d in feed.letters)

    subprocess.run([sys.executable, "-m", "cli.main", "skip", "matcher-results",
                    str(ghost.partition),
                    str(ghost.offset), "--reason", "forged by a test"], env=p.env(),
                   cwd=REPO_ROOT, check=True, capture_output=True)
    wait_status(p, feed, "b1", "FILLED")
    assert "skipped by an operator (forged by a test)" in feed.letter_for(ghost).error
    wait_for(lambda: p.worker_metric(worker, "matchstream_stage_blocked", **blocked) == 0,
             WAIT, "settlement no longer blocked", feed.logs)
    assert cash(p, "bob") == (10_000_000 - 100_000, 0)
    assert_reconciled_besides(p)


# -- records too large to echo ---------------------------------------------------------

def test_huge_records_become_bounded_dead_letters_on_every_topic(platform):
    """~11 MB records, as binary garbage and as JSON with a huge field: a dead letter
    holds a bounded prefix, the size and a hash, and every stage goes on."""
    p = platform
    worker, feed = alice_and_bob(p)
    big = Producer(producer_config(p.settings, **{"message.max.bytes": 64 * 1024 * 1024}))
    garbage = b"\x01" * (11 * 1024 * 1024)  # JSON escapes each as 6 bytes
    huge_id = raw_order(order_id="x" * (11 * 1024 * 1024))
    sent = []
    for topic in ("order-requests", "orders", "matcher-results"):
        for value in (garbage, huge_id):
            sent.append(Sent(p.topic(topic)))

            def delivered(err, msg, s=sent[-1]):
                s.error = err
                if err is None:
                    s.partition, s.offset = msg.partition(), msg.offset()

            big.produce(p.topic(topic), key=b"bob", value=value, on_delivery=delivered)
    assert big.flush(60) == 0
    for s in sent:
        assert s.error is None, s.error
        letter = feed.letter_for(s)
        assert letter.size == 11 * 1024 * 1024 or letter.size == len(huge_id)
        assert len(letter.value.encode()) <= 3 * 1024 and len(letter.error) <= 1100
    trade_pair(p, feed, "after")
    assert worker.poll() is None
    assert_reconciled_besides(p)
