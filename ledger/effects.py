"""What a batch of trades, releases or halts does to the ledger rows it locked: pure, no I/O.

Settlement locks the rows a batch touches, applies the batch here record by record, in
order, to their values, and writes each changed row back once (ledger/settlement.py).
Applying a batch at once is therefore exactly applying its records one at a time: in
particular a holding's cost basis is reduced at each sale, proportionally and floored
(ledger/positions.py cost_after_sale), in the order of the symbol's trades.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from engine.status import OrderStatus, order_status, transition
from ledger.positions import cost_after_sale
from schemas.records import Halt, OrderEvent, Trade


class SettlementError(RuntimeError):
    """A record the ledger cannot apply (it names what the ledger does not have, or asks
    for more than an order holds)."""


@dataclass(slots=True)
class AccountState:
    cash: int
    reserved_cash: int


@dataclass(slots=True)
class HoldingState:
    quantity: int
    reserved_quantity: int
    cost_basis: int = 0
    open_buys: int = 0  # what the account's open buy orders of the symbol may still buy


@dataclass(slots=True)
class OrderState:
    order_id: str
    account_id: str
    symbol: str
    side: str
    quantity: int
    price: int
    filled: int
    cancelled: int
    reserved_cash: int
    reserved_quantity: int
    status: str
    reject_reason: str | None


@dataclass
class Changed:
    """The keys of the rows a batch changed, and per symbol its last trade (seq, price)."""

    accounts: set[str] = field(default_factory=set)
    holdings: set[tuple[str, str]] = field(default_factory=set)
    orders: set[str] = field(default_factory=set)
    last_trade: dict[str, tuple[int, int]] = field(default_factory=dict)

    def merge(self, other: Changed) -> Changed:
        """Both batches' changes, e.g. a batch's trades and then its releases."""
        return Changed(self.accounts | other.accounts, self.holdings | other.holdings,
                       self.orders | other.orders, {**self.last_trade, **other.last_trade})


def settle(trades: Iterable[Trade], accounts: dict[str, AccountState],
           holdings: dict[tuple[str, str], HoldingState],
           orders: dict[str, OrderState]) -> Changed:
    """Apply the trades, in the order given, to the locked rows (changed in place)."""
    changed = Changed()
    for t in trades:
        buy, sell = orders.get(t.buy_order_id), orders.get(t.sell_order_id)
        if buy is None or sell is None:
            raise SettlementError(f"trade {t.trade_id} names an order the ledger does not have")
        buyer, seller = accounts.get(t.buyer), accounts.get(t.seller)
        bought, sold = holdings.get((t.buyer, t.symbol)), holdings.get((t.seller, t.symbol))
        if buyer is None or seller is None or bought is None or sold is None:
            raise SettlementError(f"trade {t.trade_id} names an account or a holding the "
                                  "ledger does not have")
        cost = t.price * t.quantity
        held_for_it = buy.price * t.quantity  # reserved at the limit (or MARKET collar) price
        buyer.reserved_cash -= held_for_it
        buyer.cash += held_for_it - cost  # price improvement goes back to the buyer
        seller.cash += cost
        sold.cost_basis = cost_after_sale(sold.cost_basis,
                                          sold.quantity + sold.reserved_quantity, t.quantity)
        sold.reserved_quantity -= t.quantity
        bought.quantity += t.quantity
        bought.cost_basis += cost
        bought.open_buys -= t.quantity
        buy.filled += t.quantity
        buy.reserved_cash -= held_for_it
        sell.filled += t.quantity
        sell.reserved_quantity -= t.quantity
        for order in (buy, sell):
            order.status = transition(order.status, order_status(
                order.quantity, order.filled, order.cancelled,
                order.status == OrderStatus.REJECTED))
        changed.accounts.update((t.buyer, t.seller))
        changed.holdings.update(((t.buyer, t.symbol), (t.seller, t.symbol)))
        changed.orders.update((t.buy_order_id, t.sell_order_id))
        changed.last_trade[t.symbol] = (t.seq, t.price)
    return changed


def release(events: dict[str, OrderEvent], accounts: dict[str, AccountState],
            holdings: dict[tuple[str, str], HoldingState],
            orders: dict[str, OrderState]) -> Changed:
    """Give back what each event's order still holds reserved (order id -> its cancellation
    or rejection by the matcher); an order released before, or unknown, is left alone."""
    changed = Changed()
    for order_id, event in events.items():
        order = orders.get(order_id)
        if order is None or order.cancelled:
            continue  # unknown to the ledger, or released before (a replay)
        rejected = event.status == OrderStatus.REJECTED
        remaining = order.quantity - order.filled if rejected else event.remaining_quantity
        if remaining <= 0 or remaining > order.quantity - order.filled:
            raise SettlementError(f"order {order_id}: cannot release {remaining} of "
                                  f"{order.quantity} with {order.filled} filled")
        key = (order.account_id, order.symbol)
        holding = holdings.get(key)
        if holding is None:  # the gate makes a buyer's holding with its first buy
            raise SettlementError(f"order {order_id}: its account has no {order.symbol} holding")
        if order.side == "BUY":
            amount = remaining * order.price
            account = accounts[order.account_id]  # locked as the order's owner
            account.reserved_cash -= amount
            account.cash += amount
            order.reserved_cash -= amount
            holding.open_buys -= remaining
            changed.accounts.add(order.account_id)
        else:
            holding.reserved_quantity -= remaining
            holding.quantity += remaining
            order.reserved_quantity -= remaining
        changed.holdings.add(key)
        order.cancelled = remaining
        order.status = transition(order.status, order_status(order.quantity, order.filled,
                                                             remaining, rejected))
        if rejected:
            order.reject_reason = event.reason
        changed.orders.add(order_id)
    return changed


def halt_bounds(halts: Iterable[Halt]) -> dict[str, tuple[int | None, int | None]]:
    """Per symbol, the (floor, ceiling) its halts amount to, applied in order.

    A halt raises halted_until_ms to its until_ts (greatest), an end of halt lowers it to
    its ts (least); any run of those is least(greatest(h, floor), ceiling), None meaning
    no bound (as NULL in PostgreSQL's greatest and least)."""
    bounds: dict[str, tuple[int | None, int | None]] = {}
    for h in halts:
        floor, ceiling = bounds.get(h.symbol, (None, None))
        if h.halted:
            if ceiling is not None and h.until_ts >= ceiling:
                floor = ceiling = h.until_ts
            else:
                floor = h.until_ts if floor is None else max(floor, h.until_ts)
        elif floor is not None and h.ts <= floor:
            floor = ceiling = h.ts
        else:
            ceiling = h.ts if ceiling is None else min(ceiling, h.ts)
        bounds[h.symbol] = (floor, ceiling)
    return bounds
