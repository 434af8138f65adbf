"""The API process's market data: one Kafka consumer, in-memory state, fan-out to sockets.

One confluent-kafka Consumer runs in a thread (its own group, from the earliest offset,
nothing committed: every API process rebuilds the same state) and hands batches to the
event loop, where `Hub.dispatch` updates the latest quote, the L2 book, the recent
trades, the latest candles and the halt status per symbol, and offers each update to
the subscribers of its channel. `book` records carry a level's total quantity (not a
delta), so replaying the topic from its start rebuilds the book exactly.

A subscriber has a bounded queue; a subscriber whose queue is full is dropped (its
socket is closed with code 4008) instead of slowing the others: `offer` never waits.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable

from confluent_kafka import Consumer

from infra.settings import Settings

log = logging.getLogger(__name__)

TOPICS = ("quotes", "book", "trades", "halts", "candles", "order-events")
CANDLE_INTERVALS = ("1m", "5m", "1h", "1d")
RECENT_TRADES = 50
RECENT_ORDER_EVENTS = 100
QUEUE_SIZE = int(os.environ.get("MATCHSTREAM_WS_QUEUE", "1024"))
SLOW_CLOSE_CODE = 4008
PUBLIC_TRADE_FIELDS = ("trade_id", "symbol", "seq", "price", "quantity", "aggressor", "ts")


def now_ms() -> int:
    return int(time.time() * 1000)


class Subscriber:
    """One socket's outgoing queue; `on_overflow` is called once when it fills up."""

    def __init__(self, on_overflow: Callable[[Subscriber], None],
                 maxsize: int = QUEUE_SIZE) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize)
        self.channels: set[str] = set()
        self.account: str | None = None
        self.dropped = False
        self._on_overflow = on_overflow

    def offer(self, message: str) -> None:
        if self.dropped:
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped = True
            self._on_overflow(self)


class Hub:
    def __init__(self) -> None:
        self.quotes: dict[str, dict] = {}
        self.last_trade: dict[str, dict] = {}
        self.books: dict[str, dict] = {}  # symbol -> {"seq", "BUY": {p: (q, n)}, "SELL": ...}
        self.trades: dict[str, deque] = {}
        self.candles: dict[tuple[str, str], dict] = {}
        self.halts: dict[str, dict] = {}
        self.orders: dict[str, deque] = {}
        self.subs: dict[str, set[Subscriber]] = {}
        self.records = 0
        self.dropped_subscribers = 0
        self.anonymous: dict[str, int] = {}  # address -> unauthenticated connections (api/ws.py)

    # -- state for snapshots and REST
    def status(self, symbol: str, db_halted_until: int = 0) -> dict:
        halt = self.halts.get(symbol)
        until = 0
        if halt is not None and halt.get("halted"):
            until = halt.get("until_ts") or 0
        until = max(until, db_halted_until or 0)
        halted = until > now_ms()
        out = {"symbol": symbol, "halted": halted, "halted_until": until if halted else None}
        if halted and halt is not None:
            out.update(reference_price=halt.get("reference_price"),
                       attempted_price=halt.get("attempted_price"))
        return out

    def ticker(self, symbol: str) -> dict:
        q = self.quotes.get(symbol) or {}
        last = self.last_trade.get(symbol) or {}
        status = self.status(symbol)
        return {"symbol": symbol, "seq": q.get("seq"), "ts": q.get("ts"),
                "bid": q.get("bid"), "bid_size": q.get("bid_size", 0),
                "ask": q.get("ask"), "ask_size": q.get("ask_size", 0),
                "last": last.get("price"), "last_size": last.get("quantity", 0),
                "last_ts": last.get("ts"), "halted": status["halted"],
                "halted_until": status["halted_until"]}

    def depth(self, symbol: str, levels: int = 50) -> dict:
        book = self.books.get(symbol) or {"seq": 0, "BUY": {}, "SELL": {}}
        bids = sorted(book["BUY"].items(), reverse=True)[:levels]
        asks = sorted(book["SELL"].items())[:levels]
        return {"symbol": symbol, "seq": book["seq"],
                "bids": [[p, q, n] for p, (q, n) in bids],
                "asks": [[p, q, n] for p, (q, n) in asks]}

    def snapshot(self, channel: str, account: str | None = None):
        kind, _, rest = channel.partition(":")
        if kind == "ticker":
            return self.ticker(rest)
        if kind == "trades":
            return list(self.trades.get(rest, ()))
        if kind == "book":
            return self.depth(rest)
        if kind == "candles":
            symbol, _, interval = rest.partition(":")
            return self.candles.get((symbol, interval))
        if kind == "halts":
            return self.status(rest)
        if kind == "orders":
            return list(self.orders.get(account or "", ()))
        return None

    # -- subscriptions
    def subscribe(self, sub: Subscriber, key: str) -> None:
        self.subs.setdefault(key, set()).add(sub)
        sub.channels.add(key)

    def unsubscribe(self, sub: Subscriber, key: str) -> None:
        subs = self.subs.get(key)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self.subs[key]
        sub.channels.discard(key)

    def remove(self, sub: Subscriber) -> None:
        for key in list(sub.channels):
            self.unsubscribe(sub, key)

    def publish(self, key: str, channel: str, data) -> None:
        subs = self.subs.get(key)
        if not subs:
            return
        message = json.dumps({"type": "update", "channel": channel, "data": data})
        for sub in list(subs):
            sub.offer(message)

    # -- records from Kafka (in the event loop)
    def dispatch(self, batch: list[tuple[str, bytes | None, bytes | None]]) -> None:
        for topic, key, value in batch:
            self.records += 1
            if value is None:
                continue
            try:
                record = json.loads(value)
                handler = getattr(self, "_on_" + topic.replace("-", "_"))
                handler(record, key)
            except Exception:  # a bad record never stops the feed
                log.exception("market feed: cannot use a %s record", topic)

    def _on_quotes(self, q: dict, key) -> None:
        symbol = q["symbol"]
        old = self.quotes.get(symbol)
        if old is not None and q.get("seq", 0) < old.get("seq", 0):
            return
        self.quotes[symbol] = q
        if q.get("last") is not None:
            self._last(symbol, {"price": q["last"], "quantity": q.get("last_size", 0),
                                "ts": q["ts"], "seq": q["seq"]})
        self.publish("ticker:" + symbol, "ticker:" + symbol, self.ticker(symbol))

    def _last(self, symbol: str, trade: dict) -> bool:
        """Keep the symbol's newest trade; True if this one is newer than the kept one."""
        old = self.last_trade.get(symbol)
        if old is None or trade["seq"] > old["seq"]:
            self.last_trade[symbol] = trade
            return True
        return False

    def _on_book(self, change: dict, key) -> None:
        symbol = change["symbol"]
        book = self.books.setdefault(symbol, {"seq": 0, "BUY": {}, "SELL": {}})
        side = book["BUY" if change["side"].upper() in ("BUY", "BID") else "SELL"]
        if change["quantity"] <= 0:
            side.pop(change["price"], None)
        else:
            side[change["price"]] = (change["quantity"], change["count"])
        book["seq"] = max(book["seq"], change.get("seq", 0))
        self.publish("book:" + symbol, "book:" + symbol, change)

    def _on_trades(self, record: dict, key) -> None:
        symbol = record["symbol"]
        # the public tape: no accounts or order ids (those go to their owners only)
        trade = {k: record.get(k) for k in PUBLIC_TRADE_FIELDS}
        self.trades.setdefault(symbol, deque(maxlen=RECENT_TRADES)).append(trade)
        newer = self._last(symbol, {"price": trade["price"], "quantity": trade["quantity"],
                                    "ts": trade["ts"], "seq": trade["seq"]})
        self.publish("trades:" + symbol, "trades:" + symbol, trade)
        if newer:  # the ticker's last price, even before (or without) the next quote
            self.publish("ticker:" + symbol, "ticker:" + symbol, self.ticker(symbol))

    def _on_halts(self, halt: dict, key) -> None:
        symbol = halt["symbol"]
        self.halts[symbol] = halt
        self.publish("halts:" + symbol, "halts:" + symbol, halt)
        self.publish("ticker:" + symbol, "ticker:" + symbol, self.ticker(symbol))

    def _on_candles(self, candle: dict, key) -> None:
        k = (candle["symbol"], candle["interval"])
        old = self.candles.get(k)
        if old is not None and (old["start_ms"], old["last_seq"]) > (candle["start_ms"],
                                                                     candle["last_seq"]):
            return  # an older window (a late trade) or a replayed update
        self.candles[k] = candle
        channel = f"candles:{k[0]}:{k[1]}"
        self.publish(channel, channel, candle)

    def _on_order_events(self, event: dict, key) -> None:
        account = event["account"]
        self.orders.setdefault(account, deque(maxlen=RECENT_ORDER_EVENTS)).append(event)
        self.publish("orders:" + account, "orders", event)


class KafkaFeed:
    """The consumer thread: polls every market topic and hands batches to the loop."""

    def __init__(self, settings: Settings, loop: asyncio.AbstractEventLoop,
                 deliver: Callable[[list], None]) -> None:
        self.settings = settings
        self.loop = loop
        self.deliver = deliver
        self.names = {settings.topic(n): n for n in TOPICS}
        self._stop = threading.Event()
        self.assigned = threading.Event()
        self.thread = threading.Thread(target=self._run, name="market-feed", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=10)

    def _run(self) -> None:
        consumer = Consumer({
            "bootstrap.servers": self.settings.kafka_bootstrap,
            "group.id": f"api-feed-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 5,
            "fetch.error.backoff.ms": 50,
            "topic.metadata.refresh.interval.ms": 5000,
        })
        consumer.subscribe(list(self.names), on_assign=lambda c, parts: self.assigned.set())
        try:
            while not self._stop.is_set():
                # wait for one record, then take what is already there without waiting
                # (consume(n, timeout) would hold a lone record until n or the timeout)
                first = consumer.poll(0.1)
                if first is None:
                    continue
                msgs = [first, *consumer.consume(num_messages=999, timeout=0)]
                batch = []
                for m in msgs:
                    if m.error() is not None:
                        continue
                    batch.append((self.names.get(m.topic(), m.topic()), m.key(), m.value()))
                if batch:
                    try:
                        self.loop.call_soon_threadsafe(self.deliver, batch)
                    except RuntimeError:  # the loop is closed: shutting down
                        return
        except Exception:
            log.exception("market feed consumer stopped")
        finally:
            consumer.close()
