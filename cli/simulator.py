"""A simulated market for the demo: traders sending orders, and the tape they produce.

Money is integer cents throughout: mids random-walk in ticks and order prices are
drawn with random.randint, so no price ever passes through a float.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter, OrderedDict
from dataclasses import dataclass

from confluent_kafka import Consumer, Producer, TopicPartition

from engine.status import CANCEL_REJECTED, TERMINAL, OrderStatus
from infra.kafka_client import producer_config
from infra.settings import Settings
from schemas.codec import ORDER_EVENT, TRADE, DecodeError, encode
from schemas.money import format_cents
from schemas.records import CancelRequest, NewOrderRequest, OrderEvent, Trade

# Every price stays within +/-4.5% of the symbol's reference, so two prices five minutes
# apart differ by < 10% and the circuit breaker (10% band) does not trip on noise.
PRICE_BAND_BPS = 450
MID_BAND_BPS = 300  # the mid stays well inside, so orders around it are rarely clamped
MAX_OPEN_PER_TRADER = 40  # bounds what resting orders reserve (and the position limit)
CLOSED = TERMINAL | {CANCEL_REJECTED}  # an order event after which the order is not tracked


def _band(reference: int, tick: int, bps: int) -> tuple[int, int]:
    lo = -(-reference * (10_000 - bps) // 10_000)  # ceiling: stay inside the band
    hi = reference * (10_000 + bps) // 10_000
    return -(-lo // tick) * tick, hi // tick * tick


@dataclass
class SymbolState:
    symbol: str
    reference: int  # cents: the anchor the band is measured from
    tick: int
    mid: int

    def walk(self, rng: random.Random) -> None:
        step = rng.randint(-2, 2) * self.tick
        # mean reversion: beyond 2% of the reference, lean one tick back towards it
        if abs(self.mid - self.reference) * 50 > self.reference:
            step += self.tick if self.mid < self.reference else -self.tick
        lo, hi = _band(self.reference, self.tick, MID_BAND_BPS)
        self.mid = min(hi, max(lo, self.mid + step))

    def unit(self) -> int:
        """Price step for offsets from the mid: about 2 bps, at least one tick."""
        return max(self.tick, self.mid // 5_000 // self.tick * self.tick)

    def clamp(self, price: int) -> int:
        lo, hi = _band(self.reference, self.tick, PRICE_BAND_BPS)
        return min(hi, max(lo, price))


class Simulator:
    """Each step sends one request for a random trader: LIMIT, MARKET or a cancel."""

    def __init__(self, settings: Settings, traders: list[str], symbols: list[SymbolState],
                 initial_shares: int, seed: int | None = None) -> None:
        self.topic = settings.topic("order-requests")
        self.producer = Producer(producer_config(settings, **{"linger.ms": 5}))
        self.traders = traders
        self.symbols = symbols
        self.initial_shares = initial_shares
        self.rng = random.Random(seed)
        # open GTC orders per trader, oldest first: what a cancel may target
        self.open: dict[str, OrderedDict[str, str]] = {t: OrderedDict() for t in traders}
        # shares bought minus sold since start, to lean traders back towards their start
        self.position: Counter[tuple[str, str]] = Counter()
        self.sent: Counter[str] = Counter()
        self.delivery_errors = 0

    def step(self) -> None:
        trader = self.rng.choice(self.traders)
        book = self.open[trader]
        roll = self.rng.randint(1, 100)
        if len(book) > MAX_OPEN_PER_TRADER:
            self._cancel(trader, next(iter(book)))  # the oldest: likely far from the mid
        elif roll <= 15 and book:
            self._cancel(trader, self.rng.choice(list(book)))
        elif roll <= 20:
            self._market(trader, self.rng.choice(self.symbols))
        else:
            self._limit(trader, self.rng.choice(self.symbols))
        self.producer.poll(0)

    def _side(self, trader: str, sym: SymbolState) -> str:
        # a trader who bought a lot leans to selling, and back: keeps inventories bounded
        drift = self.position[(trader, sym.symbol)] * 40 // self.initial_shares
        buy_pct = min(90, max(10, 50 - drift))
        return "BUY" if self.rng.randint(1, 100) <= buy_pct else "SELL"

    def _limit(self, trader: str, sym: SymbolState) -> None:
        sym.walk(self.rng)
        side = self._side(trader, sym)
        sign = 1 if side == "BUY" else -1
        if self.rng.randint(1, 100) <= 25:  # crossing: pays through the mid
            offset = self.rng.randint(1, 6) * sym.unit()
        else:  # passive: rests near the touch
            offset = -self.rng.randint(0, 10) * sym.unit()
        price = sym.clamp(sym.mid + sign * offset)
        tif = "IOC" if self.rng.randint(1, 100) <= 10 else "GTC"
        order_id = self._send_new(trader, sym.symbol, side, self.rng.randint(1, 100),
                                  "LIMIT", tif, price)
        if tif == "GTC":
            self.open[trader][order_id] = sym.symbol

    def _market(self, trader: str, sym: SymbolState) -> None:
        self._send_new(trader, sym.symbol, self._side(trader, sym), self.rng.randint(1, 30),
                       "MARKET", "IOC", None)

    def _send_new(self, trader, symbol, side, quantity, order_type, tif, price) -> str:
        order_id = uuid.uuid4().hex
        self._produce(trader, NewOrderRequest(
            order_id=order_id, account=trader, symbol=symbol, side=side, quantity=quantity,
            order_type=order_type, tif=tif, price=price, ts=int(time.time() * 1000)))
        self.sent[order_type] += 1
        return order_id

    def _cancel(self, trader: str, order_id: str) -> None:
        self.open[trader].pop(order_id, None)
        self._produce(trader, CancelRequest(order_id=order_id, account=trader,
                                            ts=int(time.time() * 1000)))
        self.sent["CANCEL"] += 1

    def _produce(self, trader: str, record) -> None:
        # keyed by account: one trader's requests stay in order on one partition
        self.producer.produce(self.topic, key=trader.encode(), value=encode(record),
                              on_delivery=self._delivered)

    def _delivered(self, err, _msg) -> None:
        if err is not None:
            self.delivery_errors += 1

    def on_event(self, event: OrderEvent) -> None:
        if event.status in CLOSED and event.account in self.open:
            self.open[event.account].pop(event.order_id, None)

    def on_trade(self, trade: Trade) -> None:
        self.position[(trade.buyer, trade.symbol)] += trade.quantity
        self.position[(trade.seller, trade.symbol)] -= trade.quantity

    def close(self, timeout: float = 10.0) -> int:
        """Deliver what is queued; returns how many requests could not be delivered."""
        return self.producer.flush(timeout)


class Tape:
    """Reads trades and order events from now on (not history), counting outcomes."""

    def __init__(self, settings: Settings) -> None:
        self.trades_topic = settings.topic("trades")
        self.events_topic = settings.topic("order-events")
        self.consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap,
                                  "group.id": f"matchstream-demo-{uuid.uuid4().hex}",
                                  "isolation.level": "read_committed",
                                  "enable.auto.commit": False})
        # explicit assignment at the current end: no rebalance wait, and nothing sent after
        # this point can be missed (auto.offset.reset=latest would race the first orders)
        parts = []
        for topic in (self.trades_topic, self.events_topic):
            meta = self.consumer.list_topics(topic, timeout=10).topics[topic]
            for p in meta.partitions:
                _, high = self.consumer.get_watermark_offsets(TopicPartition(topic, p),
                                                              timeout=10)
                parts.append(TopicPartition(topic, p, high))
        self.consumer.assign(parts)
        self.statuses: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.trades = 0
        self.volume_cents = 0

    def poll(self, timeout: float, on_trade, on_event) -> None:
        for msg in self.consumer.consume(num_messages=500, timeout=timeout):
            if msg.error() is not None:
                continue
            if msg.topic() == self.trades_topic:
                trade = TRADE.decode(msg.value())
                if not isinstance(trade, DecodeError):
                    self.trades += 1
                    self.volume_cents += trade.price * trade.quantity
                    on_trade(trade)
            else:
                event = ORDER_EVENT.decode(msg.value())
                if not isinstance(event, DecodeError):
                    self.statuses[event.status] += 1
                    if event.status in (OrderStatus.REJECTED, CANCEL_REJECTED) and event.reason:
                        self.reasons[f"{event.status}:{event.reason}"] += 1
                    on_event(event)

    def close(self) -> None:
        self.consumer.close()


def trade_line(trade: Trade) -> str:
    return (f"trade {trade.symbol:5} {trade.quantity:>4} @ {format_cents(trade.price):>8}  "
            f"buyer {trade.buyer} seller {trade.seller}")
