"""Records on `orders` (behind the gate) that once stopped the matcher or one of its books.

- A record that decodes but broke the engine (an event time or a price at the engine's
  INF sentinel) killed the matcher, which then read it again after every restart.
- A record for a symbol on another `orders` partition than the symbol's own moved the
  book's one applied offset forward, so its own partition's next commands were skipped;
  now such a record's commands are rejected NOT_HOME_PARTITION and never reach a book.
"""

from __future__ import annotations

import json
import time

from engine.breaker import INF
from schemas.codec import encode
from schemas.records import AcceptedCancel, AcceptedOrder, OrderBatch
from tests.integration.test_bad_input import (  # noqa: F401 (own_web_port: autouse fixture)
    WAIT,
    Sent,
    alice_and_bob,
    cash,
    flush,
    own_web_port,
    send_at,
    shares,
    trade_pair,
)
from tests.platform import Platform, wait_for
from tests.replay import read_partitions


def send_to(p: Platform, topic: str, partition: int, key: bytes, value) -> Sent:
    """send_at, onto one partition chosen by the caller instead of the key's."""
    sent = Sent(p.topic(topic))

    def delivered(err, msg) -> None:
        sent.error = err
        if err is None:
            sent.partition, sent.offset = msg.partition(), msg.offset()

    p.producer.produce(p.topic(topic), key=key, value=encode(value), partition=partition,
                       on_delivery=delivered)
    return sent


def batch(command) -> OrderBatch:
    """An `orders` record of one command."""
    return OrderBatch(command.symbol, [command])


def ghost_order(order_id: str, price: int, ts: int) -> AcceptedOrder:
    """An accepted BUY the gate never saw: an account the ledger does not know."""
    return AcceptedOrder(order_id=order_id, account="ghost", symbol="ACME", side="BUY",
                         order_type="LIMIT", tif="GTC", quantity=1, price=price, ts=ts)


def trades(p: Platform) -> list[tuple]:
    return sorted(tuple(r) for r in p.rows(
        "SELECT buy_order_id, sell_order_id, price, quantity FROM trades"))


def test_commands_that_would_break_the_engine_are_dead_lettered(platform):
    p = platform
    worker, feed = alice_and_bob(p)
    trade_pair(p, feed, "before")  # the book exists; its ask side is empty again

    now = int(time.time() * 1000)
    bad = [
        # an event time just below the sentinel: the halt / breaker arithmetic runs past it
        send_at(p, "orders", b"ACME", batch(ghost_order("far-future", 9_000, INF - 1))),
        # an event time at it: _resume and apply called each other forever
        send_at(p, "orders", b"ACME", batch(AcceptedCancel(
            order_id="before-buy", account="ghost", symbol="ACME", ts=INF))),
        # a BUY at the sentinel crossed the empty ask side: levels[INF], KeyError
        send_at(p, "orders", b"ACME", batch(ghost_order("inf-price", INF, now))),
    ]
    flush(p, *bad)
    for sent in bad:
        letter = feed.letter_for(sent)
        assert letter.error and letter.key == "ACME", letter
    assert worker.poll() is None, "the worker died"

    trade_pair(p, feed, "after")
    assert worker.poll() is None, "the worker died"
    assert trades(p) == [("after-buy", "after-sell", 10_000, 10),
                         ("before-buy", "before-sell", 10_000, 10)]
    assert cash(p, "bob") == (10_000_000 - 200_000, 0)
    assert shares(p, "bob", "ACME") == (20, 0)
    assert sorted((d.topic, d.partition, d.offset) for d in feed.all_dead_letters()) == sorted(
        (s.topic, s.partition, s.offset) for s in bad)
    feed.drain()
    assert [e for e in feed.events if e.account == "ghost"] == []
    p.assert_reconciled()


GHOSTS = 10  # on the wrong partition: offsets 0..9, past the next offsets of ACME's own


def test_a_record_off_its_symbols_home_partition_is_rejected_and_the_symbol_trades_on(platform):
    p = platform
    worker, feed = alice_and_bob(p)
    trade_pair(p, feed, "before")  # ACME's own partition: offsets 0 and 1

    orders = read_partitions(p.settings.kafka_bootstrap, p.topic("orders"))
    [home] = [partition for partition, records in orders.items() if records]
    assert home == p.scalar("SELECT home_partition FROM symbols WHERE symbol = 'ACME'")
    wrong = (home + 1) % len(orders)
    now = int(time.time() * 1000)
    ghosts = [send_to(p, "orders", wrong, b"ACME",
                      batch(ghost_order(f"ghost-{i}", 5_000, now))) for i in range(GHOSTS)]
    flush(p, *ghosts)
    assert [s.offset for s in ghosts] == list(range(GHOSTS))
    for i in range(GHOSTS):
        assert feed.rejection(f"ghost-{i}", "ghost").reason == "NOT_HOME_PARTITION"

    # orders through the gate land on ACME's own partition, at offsets below the ghosts'
    trade_pair(p, feed, "after")
    assert worker.poll() is None, "the worker died"
    assert trades(p) == [("after-buy", "after-sell", 10_000, 10),
                         ("before-buy", "before-sell", 10_000, 10)]
    # the ghosts were rejected before the trades: no book level of theirs, ever
    levels = [json.loads(value) for records in read_partitions(
        p.settings.kafka_bootstrap, p.topic("book")).values() for _, value in records]
    assert levels and not [level for level in levels if level["price"] == 5_000]

    assert cash(p, "bob") == (10_000_000 - 200_000, 0)
    assert cash(p, "alice") == (200_000, 0)
    assert shares(p, "bob", "ACME") == (20, 0)
    assert p.scalar("SELECT count(*) FROM orders WHERE account_id = 'ghost'") == 0
    assert feed.all_dead_letters() == []
    p.assert_reconciled()
