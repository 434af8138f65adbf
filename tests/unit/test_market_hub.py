"""The API's in-memory market state and fan-out (api/feed.py), without Kafka or sockets."""

from __future__ import annotations

import json

from api.feed import Hub, Subscriber


def rec(**fields) -> bytes:
    return json.dumps(fields).encode()


def level(seq, side, price, quantity, count):
    return ("book", b"ACME", rec(symbol="ACME", seq=seq, ts=seq, side=side, price=price,
                                 quantity=quantity, count=count))


def test_book_is_rebuilt_from_absolute_levels_and_replays_are_harmless():
    hub = Hub()
    changes = [level(1, "SELL", 10_100, 5, 1), level(2, "SELL", 10_000, 3, 1),
               level(3, "BUY", 9_900, 7, 2), level(4, "SELL", 10_000, 0, 0),
               level(5, "SELL", 10_100, 9, 2)]
    hub.dispatch(changes)
    expected = {"symbol": "ACME", "seq": 5, "bids": [[9_900, 7, 2]], "asks": [[10_100, 9, 2]]}
    assert hub.depth("ACME") == expected
    hub.dispatch(changes)  # the same records again (a consumer restarting from earliest)
    assert hub.depth("ACME") == expected


def test_public_trades_hide_accounts_and_update_the_ticker():
    hub = Hub()
    hub.dispatch([("trades", b"ACME", rec(trade_id="ACME-1", symbol="ACME", seq=1, price=10_000,
                                          quantity=4, buyer="bob", seller="alice",
                                          buy_order_id="b1", sell_order_id="a1",
                                          maker_order_id="a1", aggressor="BUY", ts=7))])
    [trade] = hub.snapshot("trades:ACME")
    assert "buyer" not in trade and "seller" not in trade and "buy_order_id" not in trade
    assert (hub.ticker("ACME")["last"], hub.ticker("ACME")["last_size"]) == (10_000, 4)


def test_a_full_queue_drops_only_that_subscriber():
    hub = Hub()
    dropped = []
    slow = Subscriber(lambda s: dropped.append(s), maxsize=2)
    fast = Subscriber(lambda s: dropped.append(s), maxsize=100)
    hub.subscribe(slow, "book:ACME")
    hub.subscribe(fast, "book:ACME")
    hub.dispatch([level(i, "BUY", 9_000 + i, 1, 1) for i in range(1, 6)])
    assert dropped == [slow]
    assert fast.queue.qsize() == 5 and slow.queue.qsize() == 2


def test_private_order_events_reach_their_account_only():
    hub = Hub()
    bob, alice = Subscriber(lambda s: None), Subscriber(lambda s: None)
    hub.subscribe(bob, "orders:bob")
    hub.subscribe(alice, "orders:alice")
    hub.dispatch([("order-events", b"bob", rec(order_id="b1", account="bob", symbol="ACME",
                                               status="ACCEPTED", ts=1))])
    assert bob.queue.qsize() == 1 and alice.queue.qsize() == 0
    message = json.loads(bob.queue.get_nowait())
    assert message["channel"] == "orders" and message["data"]["order_id"] == "b1"
    assert [e["order_id"] for e in hub.snapshot("orders", "bob")] == ["b1"]


def test_halt_status_follows_until_ts():
    hub = Hub()
    hub.dispatch([("halts", b"ACME", rec(symbol="ACME", halted=True, ts=1, until_ts=2,
                                         reference_price=100, attempted_price=120))])
    assert hub.status("ACME")["halted"] is False  # until_ts long past: trading again
    far = 1 << 50
    hub.dispatch([("halts", b"ACME", rec(symbol="ACME", halted=True, ts=1, until_ts=far,
                                         reference_price=100, attempted_price=120))])
    assert hub.status("ACME") == {"symbol": "ACME", "halted": True, "halted_until": far,
                                  "reference_price": 100, "attempted_price": 120}
    assert hub.ticker("ACME")["halted"] is True


def test_a_trade_updates_ticker_subscribers_before_the_next_quote():
    """A screen that took its ticker snapshot before the trade arrived shows the trade's
    price at once, not only when (or if) a quote follows."""
    hub = Hub()
    sub = Subscriber(lambda s: None)
    hub.subscribe(sub, "ticker:ACME")
    trade = rec(trade_id="ACME-1", symbol="ACME", seq=1, price=10_100, quantity=2,
                buyer="bob", seller="alice", buy_order_id="b1", sell_order_id="a1",
                maker_order_id="a1", aggressor="BUY", ts=7)
    hub.dispatch([("trades", b"ACME", trade)])
    [update] = [json.loads(sub.queue.get_nowait()) for _ in range(sub.queue.qsize())]
    assert (update["channel"], update["data"]["last"]) == ("ticker:ACME", 10_100)
    hub.dispatch([("trades", b"ACME", trade)])  # a replay: nothing new to say
    assert sub.queue.empty()
