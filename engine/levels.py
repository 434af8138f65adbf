"""Price levels of one book side: FIFO queues per price and the sorted price ladder."""
from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from typing import NamedTuple

from sortedcontainers import SortedList

from engine.breaker import INF
from engine.enums import Side

SELL = Side.SELL


class TopOfBook(NamedTuple):
    bid: int | None
    bid_qty: int
    ask: int | None
    ask_qty: int


class DepthLevel(NamedTuple):
    price: int
    quantity: int
    count: int


class Level:
    __slots__ = ("qty", "count", "orders")

    def __init__(self) -> None:
        self.qty = 0        # live quantity
        self.count = 0      # live orders
        self.orders: deque[list] = deque()   # FIFO, may hold dead orders


class BookSide:
    """One side. ``key`` = sign * price, so the best price has the smallest key.

    Prices are kept in ``ladder``, a plain list sorted so the best price is *last*
    (ascending ``-key``): most level births and deaths happen at or near the best
    price, where insort / pop move only a few pointers. Measured on the 2-core
    EPYC dev VM: a whole level birth+death next to the best costs ~1.3-1.7 µs, while
    sortedcontainers' SortedList.add+remove alone costs ~2.2-3.9 µs (300-3,000
    levels). Trade-off: with ~30,000 levels a birth mid-book costs ~11 µs (memmove)
    where SortedList stays ~2.4 µs: ``wide=True`` keeps the ladder in a SortedList.
    """

    __slots__ = ("side", "sign", "levels", "ladder", "best", "pool")

    def __init__(self, side: Side, wide: bool = False) -> None:
        self.side = side
        self.sign = 1 if side is SELL else -1
        self.levels: dict[int, Level] = {}
        # -key ascending: best price last
        self.ladder: list[int] | SortedList = SortedList() if wide else []
        self.best = INF     # best key, INF when empty
        self.pool: list[Level] = []   # emptied levels for reuse: levels churn a lot

    def add_level(self, price: int) -> Level:
        pool = self.pool
        level = self.levels[price] = pool.pop() if pool else Level()
        key = self.sign * price
        ladder = self.ladder
        if key < self.best:
            self.best = key
        if type(ladder) is list:
            if ladder and -key < ladder[-1]:
                insort(ladder, -key)
            else:
                ladder.append(-key)
        else:
            ladder.add(-key)
        return level

    def remove_level(self, price: int) -> None:
        level = self.levels.pop(price)
        if len(self.pool) < 256:
            level.orders.clear()   # qty and count are already 0
            self.pool.append(level)
        key = self.sign * price
        ladder = self.ladder
        if key == self.best:
            ladder.pop()
            self.best = -ladder[-1] if ladder else INF
        else:
            del ladder[ladder.bisect_left(-key) if type(ladder) is not list
                       else bisect_left(ladder, -key)]

    def best_price(self) -> int | None:
        return None if self.best == INF else self.sign * self.best

    def keys(self):
        """Keys best first."""
        return (-k for k in reversed(self.ladder))

    def prices(self):
        """Prices best first."""
        sign = self.sign
        return (-sign * k for k in reversed(self.ladder))
