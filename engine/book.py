"""Order book and matcher for one symbol: commands in, events out, no I/O, no clock.

Rules
- Price-time priority; a trade prints at the resting (maker) order's price.
- LIMIT and MARKET; GTC, IOC, FOK. A MARKET order never rests: its remainder is
  cancelled NO_LIQUIDITY (opposite side empty) or PRICE_COLLAR (its optional
  protection ``price`` stopped it: a buy never trades above it, a sell never below;
  any positive integer below INF, it need not be on tick since it is a bound, not a
  price).
- FOK: fills completely at once or is cancelled FOK_UNFILLABLE with no trades.
- Post-only (a GTC LIMIT only, else rejected POST_ONLY_NEEDS_GTC_LIMIT): rests, or is
  rejected POST_ONLY_WOULD_CROSS when it would trade on arrival (own orders included),
  so it never takes liquidity.
- Self-trade prevention, mode "cancel resting": an incoming order never trades with a
  resting order of the same account; that resting order is cancelled (SELF_TRADE, with
  its remaining quantity) and matching continues. FOK counts only other accounts'
  liquidity and, if it cannot fill, cancels nothing.
- Circuit breaker (see ``engine.breaker``): a trade that would breach the band is not
  printed; Halted is emitted, the incoming remainder is cancelled HALTED, resting orders
  stay. While halted, a NewOrder is rejected HALTED; Cancel still works. A FOK
  that could fill but only through a breaching price halts the symbol the same way.
- CancelAll cancels every resting order of one account (USER), oldest first.
- Duplicate order ids are detected against resting orders only (the gate assigns ids).
- Event order for an incoming order: Accepted, then per trade: Trade, maker
  Filled/PartiallyFilled (and SELF_TRADE cancels as they happen), then the taker's
  Filled/PartiallyFilled once, then Halted / Cancelled of the remainder, or it rests.

Resting orders are small lists, not objects (a list literal is ~5x cheaper to build
than a slotted instance on CPython 3.11): [remaining, order_id, account, price,
filled, arrival, side, ts]. A cancelled order is marked dead (remaining 0) and left in
its level's deque until it reaches the head, so cancel is O(1).
"""
from __future__ import annotations

from collections import deque

from engine.breaker import INF, Breaker
from engine.commands import Cancel, CancelAll, NewOrder
from engine.enums import CancelReason, CommandKind, OrderType, Reject, Side, TimeInForce
from engine.events import (Accepted, Cancelled, Filled, Halted, LevelChanged,
                           PartiallyFilled, Rejected, Resumed, Trade)
from engine.levels import BookSide, DepthLevel, TopOfBook
from engine.spec import SymbolSpec

BUY, SELL = Side.BUY, Side.SELL
LIMIT, MARKET = OrderType.LIMIT, OrderType.MARKET
GTC, IOC, FOK = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK
NEW, CANCEL = CommandKind.NEW, CommandKind.CANCEL
_new = tuple.__new__   # builds a NamedTuple without its Python-level __new__

# order record slots, named for readers; the hot path indexes with literals because
# a module-global lookup per access would cost more than the access
REM, OID, ACCT, PRICE, FILLED, ARRIVAL, SIDE, TS = range(8)


class Book:
    def __init__(self, spec: SymbolSpec, emit_levels: bool = False, wide: bool = False) -> None:
        self.spec = spec
        self.symbol = spec.symbol
        self.emit_levels = emit_levels   # LevelChanged events for market data
        self.bids = BookSide(BUY, wide)   # wide: price ladder in a SortedList
        self.asks = BookSide(SELL, wide)
        self.index: dict[str, list] = {}
        self.seq = 0          # last event sequence number of this symbol
        self.trade_seq = 0    # last trade number, for trade ids
        self.breaker = Breaker(spec.band_bps, spec.window_ms, spec.halt_ms,
                               spec.reference_price)
        self._halt_end = INF  # == breaker.halted_until, INF when trading
        self._quantity_ok = spec.quantity_ok   # the spec's rules, bound for the hot path
        self._on_tick = spec.on_tick

    # ------------------------------------------------------------------ dispatch
    def apply(self, cmd) -> list:
        """Apply one command; returns its events. NewOrder is handled in this body
        (not dispatched) because a second Python call costs ~0.3 µs on the hot path."""
        if type(cmd) is not NewOrder:
            t = type(cmd)
            if t is Cancel:
                return self.cancel(cmd)
            if t is CancelAll:
                return self.cancel_all(cmd)
            raise TypeError(f"expected NewOrder, Cancel or CancelAll, got {t.__name__}")
        ts = cmd.ts
        if ts >= self._halt_end:
            return self._resume(cmd)
        oid = cmd.order_id
        account = cmd.account
        qty = cmd.quantity
        price = cmd.price
        symbol = self.symbol
        if cmd.symbol != symbol:
            return self._reject(ts, oid, account, Reject.UNKNOWN_SYMBOL)
        if not self._quantity_ok(qty):
            return self._reject(ts, oid, account, Reject.BAD_QUANTITY)
        otype = cmd.type
        if otype is LIMIT:
            # a price at INF would be the empty-side sentinel, not a level
            if type(price) is not int or not 0 < price < INF:
                return self._reject(ts, oid, account, Reject.BAD_PRICE)
            if not self._on_tick(price):
                return self._reject(ts, oid, account, Reject.OFF_TICK)
        elif price is not None and (type(price) is not int or not 0 < price < INF):
            return self._reject(ts, oid, account, Reject.BAD_PRICE)
        index = self.index
        if oid in index:
            return self._reject(ts, oid, account, Reject.DUPLICATE_ORDER_ID)
        if self._halt_end != INF:
            return self._reject(ts, oid, account, Reject.HALTED)
        side = cmd.side
        tif = cmd.tif
        if side is BUY:
            own = self.bids
            crosses = self.asks.best <= (INF - 1 if price is None else price)
        else:
            own = self.asks
            crosses = self.bids.best <= (INF - 1 if price is None else -price)
        if cmd.post_only:
            if otype is not LIMIT or tif is not GTC:
                return self._reject(ts, oid, account, Reject.POST_ONLY_NEEDS_GTC_LIMIT)
            if crosses:
                return self._reject(ts, oid, account, Reject.POST_ONLY_WOULD_CROSS)
        self.seq = seq = self.seq + 1
        accepted = _new(Accepted, (symbol, seq, ts, oid, account, side, otype, tif, qty, price))
        if crosses or otype is MARKET or tif is not GTC:
            out = [accepted]
            self._take(out, ts, oid, account, side, otype, tif, qty, price, 0, seq)
            return out
        # fast path: a GTC limit that does not cross rests at the back of its level
        level = own.levels.get(price)
        if level is None:
            level = own.add_level(price)
        order = [qty, oid, account, price, 0, seq, side, ts]
        level.orders.append(order)
        level.qty += qty
        level.count += 1
        index[oid] = order
        if self.emit_levels:
            self.seq = seq = seq + 1
            return [accepted, _new(LevelChanged, (symbol, seq, ts, side, price, level.qty,
                                                  level.count))]
        return [accepted]

    def _resume(self, cmd) -> list:
        """The halt is over (event time reached halted_until): Resumed, then the command."""
        if cmd.ts >= INF:   # past the "not halted" sentinel: apply would come back here
            raise ValueError(f"event time {cmd.ts} out of range: must be below {INF}")
        self._halt_end = INF
        self.breaker.halted_until = None
        self.seq += 1
        out = [_new(Resumed, (self.symbol, self.seq, cmd.ts))]
        out.extend(self.apply(cmd))
        return out

    def _reject(self, ts: int, order_id: str, account: str, reason, command=NEW) -> list:
        self.seq += 1
        return [_new(Rejected, (self.symbol, self.seq, ts, order_id, account, command,
                                reason))]

    # ------------------------------------------------------------------ matching
    def _take(self, out: list, ts: int, oid: str, account: str, side: Side, otype,
              tif, qty: int, price: int | None, filled: int, arrival: int) -> None:
        """Match an accepted incoming order, then cancel or rest its remainder."""
        if side is BUY:
            opp = self.asks
            limit_key = INF - 1 if price is None else price
        else:
            opp = self.bids
            limit_key = INF - 1 if price is None else -price
        symbol = self.symbol
        if tif is FOK:
            verdict = self._fok_check(ts, account, qty, limit_key, opp)
            if verdict is not None:
                reason, ref, attempted = verdict
                if reason is CancelReason.HALTED:
                    self._halt(out, ts, ref, attempted)
                self.seq += 1
                out.append(_new(Cancelled, (symbol, self.seq, ts, oid, account, reason, qty)))
                return
        remaining = qty
        halted = False
        if opp.best <= limit_key:
            remaining, filled, halted = self._match(out, ts, oid, account, side, qty,
                                                    filled, limit_key, opp)
            if remaining != qty:   # traded in this command
                self.seq += 1
                cls = PartiallyFilled if remaining else Filled
                out.append(_new(cls, (symbol, self.seq, ts, oid, account, filled, remaining)))
        if not remaining:
            return
        if halted:
            reason = CancelReason.HALTED
        elif otype is MARKET:
            reason = (CancelReason.PRICE_COLLAR if price is not None and opp.best != INF
                      else CancelReason.NO_LIQUIDITY)
        elif tif is IOC:
            reason = CancelReason.IOC_REMAINDER
        elif tif is FOK:   # unreachable: the FOK check passed
            reason = CancelReason.FOK_UNFILLABLE
        else:
            self._rest(out, ts, oid, account, side, price, remaining, filled, arrival)
            return
        self.seq += 1
        out.append(_new(Cancelled, (symbol, self.seq, ts, oid, account, reason, remaining)))

    def _rest(self, out: list, ts: int, oid: str, account: str, side: Side, price: int,
              remaining: int, filled: int, arrival: int) -> None:
        own = self.bids if side is BUY else self.asks
        level = own.levels.get(price)
        if level is None:
            level = own.add_level(price)
        order = [remaining, oid, account, price, filled, arrival, side, ts]
        level.orders.append(order)
        level.qty += remaining
        level.count += 1
        self.index[oid] = order
        if self.emit_levels:
            self.seq += 1
            out.append(_new(LevelChanged, (self.symbol, self.seq, ts, side, price,
                                           level.qty, level.count)))

    def _fok_check(self, ts: int, account: str, qty: int, limit_key: int, opp: BookSide):
        """None if the FOK can fill completely without breaching the band; else
        (FOK_UNFILLABLE, 0, 0) or (HALTED, reference, first breaching price)."""
        need = qty
        breach = None
        lo, hi, ref = self.breaker.bounds(ts)
        sign = opp.sign
        levels = opp.levels
        for key in opp.keys():
            if key > limit_key or need <= 0:
                break
            price = sign * key
            avail = 0
            for order in levels[price].orders:
                if order[0] and order[2] != account:
                    avail += order[0]
            if not avail:
                continue
            if ref == 0:   # no reference yet: the first trade will set it
                lo, hi, ref = self._bounds_from(price)
            if breach is None and not lo <= price <= hi:
                breach = (CancelReason.HALTED, ref, price)
            need -= avail
        if need > 0:
            return (CancelReason.FOK_UNFILLABLE, 0, 0)
        return breach

    def _halt(self, out: list, ts: int, ref: int, attempted: int) -> None:
        until = ts + self.breaker.halt_ms
        self.breaker.halted_until = self._halt_end = until
        self.seq += 1
        out.append(_new(Halted, (self.symbol, self.seq, ts, ref, attempted, until)))

    def _bounds_from(self, ref: int) -> tuple[int, int, int]:
        band = self.breaker.band_bps
        return -((-ref * (10_000 - band)) // 10_000), ref * (10_000 + band) // 10_000, ref

    def _match(self, out: list, ts: int, oid: str, account: str, side: Side,
               remaining: int, filled: int, limit_key: int, opp: BookSide):
        """Trade against ``opp`` while it crosses ``limit_key``.
        Returns (remaining, filled so far, halted)."""
        symbol = self.symbol
        prefix = symbol + "-"
        index = self.index
        levels = opp.levels
        sign = opp.sign
        opp_side = opp.side
        emit_levels = self.emit_levels
        breaker = self.breaker
        lo, hi, ref = breaker.bounds(ts)
        seq = self.seq
        trade_seq = self.trade_seq
        halted = False
        append = out.append
        buy = side is BUY
        while remaining and opp.best <= limit_key:
            price = sign * opp.best
            level = levels[price]
            orders = level.orders
            checked = False
            changed = False
            before = remaining
            while remaining and level.count:
                order = orders[0]
                rem = order[0]
                if not rem:              # dead (cancelled) order
                    orders.popleft()
                    continue
                if order[2] == account:  # self-trade prevention: cancel resting
                    orders.popleft()
                    order[0] = 0
                    level.qty -= rem
                    level.count -= 1
                    del index[order[1]]
                    changed = True
                    seq += 1
                    append(_new(Cancelled, (symbol, seq, ts, order[1], account,
                                            CancelReason.SELF_TRADE, rem)))
                    continue
                if not checked:
                    if ref == 0:
                        lo, hi, ref = self._bounds_from(price)
                    if price < lo or price > hi:
                        halted = True
                        until = ts + breaker.halt_ms
                        breaker.halted_until = self._halt_end = until
                        seq += 1
                        append(_new(Halted, (symbol, seq, ts, ref, price, until)))
                        break
                    checked = True
                fill = remaining if remaining < rem else rem
                trade_seq += 1
                seq += 2   # the Trade, then the maker's fill event
                maker_id = order[1]
                maker_acct = order[2]
                if buy:
                    append(_new(Trade, (symbol, seq - 1, ts, f"{prefix}{trade_seq}", price, fill,
                                        oid, maker_id, account, maker_acct, maker_id, side)))
                else:
                    append(_new(Trade, (symbol, seq - 1, ts, f"{prefix}{trade_seq}", price, fill,
                                        maker_id, oid, maker_acct, account, maker_id, side)))
                remaining -= fill
                made = order[4] + fill
                order[4] = made
                if fill == rem:
                    order[0] = 0
                    orders.popleft()
                    level.count -= 1
                    del index[maker_id]
                    append(_new(Filled, (symbol, seq, ts, maker_id, maker_acct, made, 0)))
                else:
                    rem -= fill
                    order[0] = rem
                    append(_new(PartiallyFilled, (symbol, seq, ts, maker_id, maker_acct, made,
                                                  rem)))
            traded = remaining != before
            if traded:   # level total and breaker history once per level, not per fill
                level.qty -= before - remaining
                filled += before - remaining
                breaker.record(ts, price)
            if not level.count:
                opp.remove_level(price)
            if emit_levels and (traded or changed):
                seq += 1
                append(_new(LevelChanged, (symbol, seq, ts, opp_side, price, level.qty,
                                           level.count)))
            if halted:
                break
        self.seq = seq
        self.trade_seq = trade_seq
        return remaining, filled, halted

    # ------------------------------------------------------------------ cancel
    def cancel_all(self, cmd: CancelAll) -> list:
        """Cancel (USER) every resting order of the account, oldest first; none: no events."""
        if cmd.ts >= self._halt_end:
            return self._resume(cmd)
        if cmd.symbol != self.symbol:
            return self._reject(cmd.ts, "", cmd.account, Reject.UNKNOWN_SYMBOL, CANCEL)
        mine = [oid for oid, order in self.index.items() if order[2] == cmd.account]
        out: list = []
        for oid in mine:
            out.extend(self.cancel(Cancel(oid, cmd.account, self.symbol, cmd.ts)))
        return out

    def cancel(self, cmd: Cancel) -> list:
        ts = cmd.ts
        if ts >= self._halt_end:
            return self._resume(cmd)
        oid = cmd.order_id
        account = cmd.account
        if cmd.symbol != self.symbol:
            return self._reject(ts, oid, account, Reject.UNKNOWN_SYMBOL, CANCEL)
        order = self.index.get(oid)
        if order is None:
            return self._reject(ts, oid, account, Reject.UNKNOWN_ORDER, CANCEL)
        if order[2] != account:
            return self._reject(ts, oid, account, Reject.NOT_OWNER, CANCEL)
        # inlined _unlink: cancels are a fifth of the flow
        rem = order[0]
        price = order[3]
        own = self.bids if order[6] is BUY else self.asks
        level = own.levels[price]
        order[0] = 0
        level.qty -= rem
        level.count -= 1
        del self.index[oid]
        if not level.count:
            own.remove_level(price)
        elif len(level.orders) > 2 * level.count + 32:
            level.orders = deque(o for o in level.orders if o[0])
        self.seq = seq = self.seq + 1
        out = [_new(Cancelled, (self.symbol, seq, ts, oid, account, CancelReason.USER, rem))]
        if self.emit_levels:
            self._level_event(out, ts, order[6], order[3])
        return out

    def _unlink(self, order: list) -> int:
        """Remove a resting order from the book; returns its remaining quantity."""
        rem = order[0]
        price = order[3]
        own = self.bids if order[6] is BUY else self.asks
        level = own.levels[price]
        order[0] = 0
        level.qty -= rem
        level.count -= 1
        del self.index[order[1]]
        if not level.count:
            own.remove_level(price)
        elif len(level.orders) > 2 * level.count + 32:
            # too many dead entries: compact so memory stays bounded
            level.orders = deque(o for o in level.orders if o[0])
        return rem

    def _level_event(self, out: list, ts: int, side: Side, price: int) -> None:
        own = self.bids if side is BUY else self.asks
        level = own.levels.get(price)
        self.seq += 1
        out.append(_new(LevelChanged, (self.symbol, self.seq, ts, side, price,
                                       level.qty if level else 0,
                                       level.count if level else 0)))

    # ------------------------------------------------------------------ queries
    def best_bid(self) -> int | None:
        return self.bids.best_price()

    def best_ask(self) -> int | None:
        return self.asks.best_price()

    def top(self) -> TopOfBook:
        """Best bid / ask price (None if that side is empty) and total quantity there."""
        bid = self.bids.best_price()
        ask = self.asks.best_price()
        return TopOfBook(bid, self.bids.levels[bid].qty if bid is not None else 0,
                         ask, self.asks.levels[ask].qty if ask is not None else 0)

    def depth(self, n: int = 10) -> dict[str, list[DepthLevel]]:
        """L2: up to ``n`` levels a side, best first: {"bids": [...], "asks": [...]}."""
        result = {}
        for name, book_side in (("bids", self.bids), ("asks", self.asks)):
            rows = []
            for price in book_side.prices():
                if len(rows) >= n:
                    break
                level = book_side.levels[price]
                rows.append(DepthLevel(price, level.qty, level.count))
            result[name] = rows
        return result

    def orders(self, side: Side):
        """Live resting orders of one side in priority order (records, read-only)."""
        book_side = self.bids if side is BUY else self.asks
        for price in book_side.prices():
            for order in book_side.levels[price].orders:
                if order[0]:
                    yield order

    @property
    def halted_until(self) -> int | None:
        return self.breaker.halted_until

    def __len__(self) -> int:
        return len(self.index)

    def check_invariants(self) -> None:
        from engine.invariants import check_book
        check_book(self)
