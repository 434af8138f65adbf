"""The product brief's naive design, as the baseline: two SortedLists of order objects
keyed by price, match with [0] / pop(0), cancel by removing from the list, trade dicts.
No time in force, self-trade prevention or breaker: it is only the cost baseline."""
from __future__ import annotations

from sortedcontainers import SortedList

from engine.commands import NewOrder
from engine.enums import OrderType, Side


class NaiveOrder:
    __slots__ = ("order_id", "account", "side", "price", "qty", "ts")

    def __init__(self, order_id, account, side, price, qty, ts):
        self.order_id = order_id
        self.account = account
        self.side = side
        self.price = price
        self.qty = qty
        self.ts = ts


class NaiveBook:
    def __init__(self) -> None:
        self.buy_orders = SortedList(key=lambda o: -o.price)
        self.sell_orders = SortedList(key=lambda o: o.price)
        self.by_id: dict[str, NaiveOrder] = {}

    def apply(self, cmd) -> list[dict]:
        if type(cmd) is NewOrder:
            return self.add(cmd)
        order = self.by_id.pop(cmd.order_id, None)
        if order is not None:
            (self.buy_orders if order.side is Side.BUY else self.sell_orders).remove(order)
        return []

    def add(self, cmd: NewOrder) -> list[dict]:
        trades = []
        order = NaiveOrder(cmd.order_id, cmd.account, cmd.side, cmd.price, cmd.quantity, cmd.ts)
        market = cmd.type is OrderType.MARKET
        if order.side is Side.BUY:
            book, crosses = self.sell_orders, (lambda best: market or best.price <= order.price)
        else:
            book, crosses = self.buy_orders, (lambda best: market or best.price >= order.price)
        while order.qty and book and crosses(book[0]):
            best = book[0]
            fill = min(order.qty, best.qty)
            trades.append({"buy": order.order_id if order.side is Side.BUY else best.order_id,
                           "sell": best.order_id if order.side is Side.BUY else order.order_id,
                           "price": best.price, "qty": fill, "ts": cmd.ts})
            order.qty -= fill
            best.qty -= fill
            if not best.qty:
                book.pop(0)
                del self.by_id[best.order_id]
        if order.qty and not market:
            (self.buy_orders if order.side is Side.BUY else self.sell_orders).add(order)
            self.by_id[order.order_id] = order
        return trades
