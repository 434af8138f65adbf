"""Pre-trade checks in integer arithmetic, with no I/O: the gate calls them with what it read.

MARKET buy reservation rule: a MARKET order carries a protection price (collar) set
by the gate at the symbol's market price (SymbolSpec.market_price: the last trade
price, or the reference price before any trade) plus COLLAR_BPS, rounded up to the
tick; the engine never lets it trade above that price (its remainder is cancelled with
reason PRICE_COLLAR), so reserving quantity x collar always covers what it can spend.
MARKET sells get the mirror collar.
"""

from __future__ import annotations

from engine.enums import ORDER_TYPES, SIDES, TIFS, OrderType, Reject, Side, TimeInForce
from engine.spec import SymbolSpec
from schemas.records import MAX_PRICE, MAX_QUANTITY, CancelRequest, NewOrderRequest, text_ok

COLLAR_BPS = 1000  # 10%: the circuit breaker's band, so a collar rarely bites first
POSITION_LIMIT_BPS = 500  # 5% of shares outstanding


def check_cancel(req: CancelRequest) -> Reject | None:
    return None if text_ok(req.order_id) and text_ok(req.account) else Reject.MALFORMED


def check_new_order(req: NewOrderRequest, rules: SymbolSpec | None, now_ms: int) -> Reject | None:
    """The first rule a request breaks, or None. Account checks need the ledger: not here."""
    if not text_ok(req.order_id) or not text_ok(req.account):
        return Reject.MALFORMED
    if rules is None:
        return Reject.UNKNOWN_SYMBOL
    if req.side not in SIDES or req.order_type not in ORDER_TYPES or req.tif not in TIFS:
        return Reject.MALFORMED
    if not rules.quantity_ok(req.quantity) or req.quantity > MAX_QUANTITY:
        return Reject.BAD_QUANTITY
    if req.order_type == OrderType.LIMIT:
        if req.price is None or req.price <= 0 or req.price > MAX_PRICE:
            return Reject.BAD_PRICE
        if not rules.on_tick(req.price):
            return Reject.OFF_TICK
    elif req.price is not None:
        return Reject.BAD_PRICE  # a MARKET order's price is the gate's collar, not the client's
    if req.post_only and (req.order_type != OrderType.LIMIT or req.tif != TimeInForce.GTC):
        return Reject.POST_ONLY_NEEDS_GTC_LIMIT
    if now_ms < rules.halted_until_ms:
        return Reject.HALTED
    return None


def market_collar(side: str, last_price: int, tick_size: int) -> int:
    """Protection price for a MARKET order: last +/- COLLAR_BPS, on the tick, away from last;
    never above MAX_PRICE (the matcher refuses an order priced above it)."""
    if side == Side.BUY:
        raw = -(-last_price * (10_000 + COLLAR_BPS) // 10_000)  # ceiling division
        return min(-(-raw // tick_size), MAX_PRICE // tick_size) * tick_size
    raw = last_price * (10_000 - COLLAR_BPS) // 10_000
    return max(tick_size, raw // tick_size * tick_size)


def within_position_limit(held: int, open_buy_quantity: int, quantity: int,
                          shares_outstanding: int) -> bool:
    """No account may hold, counting open buy orders, more than 5% of the shares outstanding."""
    return (held + open_buy_quantity + quantity) * 10_000 <= shares_outstanding * POSITION_LIMIT_BPS
