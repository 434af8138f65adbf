"""A deliberately simple reference matcher: one list of resting orders, a linear scan
for the best one, the breaker rule recomputed from the full trade history. It follows
the rules written in engine/book.py and engine/breaker.py, not their code, so the fast
book can be checked against it event for event. Assumes non-decreasing ``ts``."""
from __future__ import annotations

import bisect

from engine.commands import Cancel, CancelAll, NewOrder
from engine.enums import CancelReason, CommandKind, OrderType, Reject, Side, TimeInForce
from engine.events import (
    Accepted,
    Cancelled,
    Filled,
    Halted,
    PartiallyFilled,
    Rejected,
    Resumed,
    Trade,
)
from engine.spec import SymbolSpec


class RefOrder:
    def __init__(self, order_id, account, side, price, remaining, filled, arrival):
        self.order_id = order_id
        self.account = account
        self.side = side
        self.price = price
        self.remaining = remaining
        self.filled = filled
        self.arrival = arrival


class RefBook:
    def __init__(self, spec: SymbolSpec) -> None:
        self.spec = spec
        self.resting: list[RefOrder] = []
        self.seq = 0
        self.trade_seq = 0
        self.trade_ts: list[int] = []
        self.trade_px: list[int] = []
        self.halted_until: int | None = None

    # helpers
    def _emit(self, out, cls, ts, *fields):
        self.seq += 1
        out.append(cls(self.spec.symbol, self.seq, ts, *fields))

    def _find(self, order_id):
        for o in self.resting:
            if o.order_id == order_id:
                return o
        return None

    def _reference(self, ts):
        i = bisect.bisect_right(self.trade_ts, ts - self.spec.window_ms)
        if i:
            return self.trade_px[i - 1]
        if self.spec.reference_price is not None:
            return self.spec.reference_price
        return self.trade_px[0] if self.trade_px else None

    def _breaches(self, ref, price):
        return ref is not None and abs(price - ref) * 10_000 > self.spec.band_bps * ref

    def _opposite(self, side, limit):
        """Crossing resting orders of the other side, best first."""
        if side is Side.BUY:
            other = [o for o in self.resting if o.side is Side.SELL
                     and (limit is None or o.price <= limit)]
            other.sort(key=lambda o: (o.price, o.arrival))
        else:
            other = [o for o in self.resting if o.side is Side.BUY
                     and (limit is None or o.price >= limit)]
            other.sort(key=lambda o: (-o.price, o.arrival))
        return other

    def _best(self, side, limit):
        """The best crossing resting order of the other side, or None (one scan)."""
        best = None
        for o in self.resting:
            if o.side is side:
                continue
            if side is Side.BUY:
                if (limit is None or o.price <= limit) and (
                        best is None or (o.price, o.arrival) < (best.price, best.arrival)):
                    best = o
            elif (limit is None or o.price >= limit) and (
                    best is None or (-o.price, o.arrival) < (-best.price, best.arrival)):
                best = o
        return best

    def apply(self, cmd):
        out: list = []
        if self.halted_until is not None and cmd.ts >= self.halted_until:
            self.halted_until = None
            self._emit(out, Resumed, cmd.ts)
        if isinstance(cmd, NewOrder):
            self._new(cmd, out)
        elif isinstance(cmd, CancelAll):
            if cmd.symbol != self.spec.symbol:
                self._emit(out, Rejected, cmd.ts, "", cmd.account, CommandKind.CANCEL,
                           Reject.UNKNOWN_SYMBOL)
            for order in sorted((o for o in self.resting if o.account == cmd.account
                                 and cmd.symbol == self.spec.symbol), key=lambda o: o.arrival):
                self._cancel(Cancel(order.order_id, cmd.account, cmd.symbol, cmd.ts), out)
        else:
            self._cancel(cmd, out)
        return out

    def _bad_qty(self, q):
        s = self.spec
        return type(q) is not int or q <= 0 or q > s.max_order_quantity or q % s.lot_size != 0

    def _new(self, c: NewOrder, out):
        ts = c.ts
        rej = None
        if c.symbol != self.spec.symbol:
            rej = Reject.UNKNOWN_SYMBOL
        elif self._bad_qty(c.quantity):
            rej = Reject.BAD_QUANTITY
        elif c.type is OrderType.LIMIT and (type(c.price) is not int or c.price <= 0):
            rej = Reject.BAD_PRICE
        elif c.type is OrderType.LIMIT and c.price % self.spec.tick_size:
            rej = Reject.OFF_TICK
        elif c.type is OrderType.MARKET and c.price is not None and (
                type(c.price) is not int or c.price <= 0):
            rej = Reject.BAD_PRICE
        elif self._find(c.order_id) is not None:
            rej = Reject.DUPLICATE_ORDER_ID
        elif self.halted_until is not None:
            rej = Reject.HALTED
        elif c.post_only and (c.type is not OrderType.LIMIT or c.tif is not TimeInForce.GTC):
            rej = Reject.POST_ONLY_NEEDS_GTC_LIMIT
        elif c.post_only and self._best(c.side, c.price) is not None:
            rej = Reject.POST_ONLY_WOULD_CROSS  # any account's order, one's own too
        if rej is not None:
            self._emit(out, Rejected, ts, c.order_id, c.account, CommandKind.NEW, rej)
            return
        self._emit(out, Accepted, ts, c.order_id, c.account, c.side, c.type, c.tif,
                   c.quantity, c.price)
        self._take(out, ts, c.order_id, c.account, c.side, c.type, c.tif, c.quantity,
                   c.price, 0, self.seq)

    def _take(self, out, ts, oid, account, side, otype, tif, qty, price, filled, arrival):
        if tif is TimeInForce.FOK:
            need, breach = qty, None
            ref = self._reference(ts)
            prices = []
            for o in self._opposite(side, price):
                if o.account != account and o.price not in prices:
                    prices.append(o.price)
            for p in prices:
                if need <= 0:
                    break
                avail = sum(o.remaining for o in self.resting if o.side is not side
                            and o.price == p and o.account != account)
                if ref is None:
                    ref = p
                if breach is None and self._breaches(ref, p):
                    breach = (ref, p)
                need -= avail
            if need > 0:
                self._emit(out, Cancelled, ts, oid, account, CancelReason.FOK_UNFILLABLE, qty)
                return
            if breach is not None:
                self._halt(out, ts, *breach)
                self._emit(out, Cancelled, ts, oid, account, CancelReason.HALTED, qty)
                return
        remaining, halted = qty, False
        while remaining:
            maker = self._best(side, price)
            if maker is None:
                break
            if maker.account == account:
                self.resting.remove(maker)
                self._emit(out, Cancelled, ts, maker.order_id, maker.account,
                           CancelReason.SELF_TRADE, maker.remaining)
                continue
            ref = self._reference(ts)
            if self._breaches(ref, maker.price):
                self._halt(out, ts, ref, maker.price)
                halted = True
                break
            fill = min(remaining, maker.remaining)
            self.trade_seq += 1
            buy, sell = (oid, maker.order_id) if side is Side.BUY else (maker.order_id, oid)
            buyer, seller = (account, maker.account) if side is Side.BUY else (
                maker.account, account)
            self._emit(out, Trade, ts, f"{self.spec.symbol}-{self.trade_seq}", maker.price,
                       fill, buy, sell, buyer, seller, maker.order_id, side)
            self.trade_ts.append(ts)
            self.trade_px.append(maker.price)
            remaining -= fill
            filled += fill
            maker.remaining -= fill
            maker.filled += fill
            if maker.remaining == 0:
                self.resting.remove(maker)
                self._emit(out, Filled, ts, maker.order_id, maker.account, maker.filled, 0)
            else:
                self._emit(out, PartiallyFilled, ts, maker.order_id, maker.account,
                           maker.filled, maker.remaining)
        if remaining != qty:
            cls = Filled if remaining == 0 else PartiallyFilled
            self._emit(out, cls, ts, oid, account, filled, remaining)
        if remaining == 0:
            return
        if halted:
            reason = CancelReason.HALTED
        elif otype is OrderType.MARKET:
            other_side_left = any(o.side is not side for o in self.resting)
            reason = (CancelReason.PRICE_COLLAR if price is not None and other_side_left
                      else CancelReason.NO_LIQUIDITY)
        elif tif is TimeInForce.IOC:
            reason = CancelReason.IOC_REMAINDER
        else:
            self.resting.append(RefOrder(oid, account, side, price, remaining, filled, arrival))
            return
        self._emit(out, Cancelled, ts, oid, account, reason, remaining)

    def _halt(self, out, ts, ref, attempted):
        self.halted_until = ts + self.spec.halt_ms
        self._emit(out, Halted, ts, ref, attempted, self.halted_until)

    def _cancel(self, c: Cancel, out):
        o = self._find(c.order_id)
        if c.symbol != self.spec.symbol:
            self._emit(out, Rejected, c.ts, c.order_id, c.account, CommandKind.CANCEL,
                       Reject.UNKNOWN_SYMBOL)
        elif o is None:
            self._emit(out, Rejected, c.ts, c.order_id, c.account, CommandKind.CANCEL,
                       Reject.UNKNOWN_ORDER)
        elif o.account != c.account:
            self._emit(out, Rejected, c.ts, c.order_id, c.account, CommandKind.CANCEL,
                       Reject.NOT_OWNER)
        else:
            self.resting.remove(o)
            self._emit(out, Cancelled, c.ts, o.order_id, o.account, CancelReason.USER,
                       o.remaining)
