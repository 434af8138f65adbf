"""One batch of order requests: validate, check risk, reserve, decide what to send on.

Runs inside one PostgreSQL transaction per batch, in two round trips (ledger/pg.py): its
reads go out together, then its writes with the COMMIT. Idempotent: an order row
remembers the (partition, offset) of the request that created it, so a batch replayed
after a crash re-emits the same outcome, while a different request reusing an order id
is rejected as a duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.enums import OrderType, Reject, Side
from engine.status import CANCEL_REJECTED, OPEN, OrderStatus
from ledger import gate_store as store
from ledger.effects import HoldingState
from ledger.locks import lock_accounts, lock_holdings, write_accounts, write_holdings
from ledger.pg import Conn
from ledger.specs import load_specs
from risk.rules import check_cancel, check_new_order, market_collar, within_position_limit
from schemas.codec import ORDER_REQUEST, DecodeError, encode
from schemas.records import (
    AcceptedCancel,
    AcceptedCancelAll,
    AcceptedOrder,
    CancelAllRequest,
    CancelRequest,
    NewOrderRequest,
    OrderBatch,
    OrderEvent,
    text_ok,
)

# rejections whose fields may not fit the orders table: answered, not recorded
_NOT_RECORDED = {Reject.MALFORMED, Reject.UNKNOWN_SYMBOL, Reject.BAD_QUANTITY, Reject.BAD_PRICE}


@dataclass(frozen=True, slots=True)
class RawRecord:
    key: bytes | None
    value: bytes | None
    partition: int
    offset: int


@dataclass(slots=True)
class GateOutput:
    commands: dict[str, list] = field(default_factory=dict)  # symbol -> accepted, in order
    homes: dict[str, int] = field(default_factory=dict)  # symbol -> its `orders` partition
    events: list[tuple[bytes, bytes]] = field(default_factory=list)  # key: account
    undecodable: list[tuple[RawRecord, DecodeError]] = field(default_factory=list)  # to dead-letter
    accepted: int = 0
    rejected: dict[str, int] = field(default_factory=dict)

    def order_batches(self) -> list[tuple[int, bytes, bytes]]:
        """(partition, key, value) of the `orders` records: one per symbol, to its home
        partition (not by key: a key's partition moves when `orders` grows)."""
        return [(self.homes[symbol], symbol.encode(), encode(OrderBatch(symbol, commands)))
                for symbol, commands in self.commands.items()]


def _event(out: GateOutput, order_id: str, account: str, symbol: str, status: str, ts: int,
           reason: str | None = None, remaining: int = 0) -> None:
    record = OrderEvent(order_id=order_id, account=account, symbol=symbol, status=status, ts=ts,
                        reason=reason, remaining_quantity=remaining)
    out.events.append((account.encode(), encode(record)))
    if reason is not None:
        out.rejected[reason] = out.rejected.get(reason, 0) + 1


async def process_batch(conn: Conn, topic: str, records: list[RawRecord],
                        now_ms: int) -> GateOutput:
    out = GateOutput()
    decoded = [ORDER_REQUEST.decode(r.value) for r in records]
    # ids that cannot even be looked up are answered MALFORMED below, without the ledger
    sane = [d for d in decoded if isinstance(d, (NewOrderRequest, CancelRequest))
            and text_ok(d.order_id) and text_ok(d.account)]
    new_orders = [d for d in sane if isinstance(d, NewOrderRequest)]
    cancelled = {d.order_id for d in sane if isinstance(d, CancelRequest)}
    clearing = {d.account for d in decoded if isinstance(d, CancelAllRequest)
                and text_ok(d.account)}
    keys = {(d.account, d.symbol) for d in new_orders if text_ok(d.symbol)}
    # one round trip, run in this order: find_orders after the account locks, so that
    # what a concurrent gate committed for these accounts is seen
    locked_accounts = await lock_accounts(conn, {d.account for d in new_orders})
    found = await store.find_orders(conn, {d.order_id for d in sane})
    found_homes = await store.find_homes(conn, cancelled)
    found_open = await store.find_open_symbols(conn, clearing)
    locked_holdings = await lock_holdings(conn, keys)
    specs = await load_specs(conn, {symbol for _, symbol in keys})
    accounts, existing = await locked_accounts.result(), await found.result()
    holdings, symbols = await locked_holdings.result(), await specs.result()
    out.homes.update(await found_homes.result())
    open_symbols: dict[str, set[str]] = {}  # account -> symbols of its open orders
    for account_id, symbol, home in await found_open.result():
        open_symbols.setdefault(account_id, set()).add(symbol)
        out.homes[symbol] = home
    out.homes.update((symbol, spec.home_partition) for symbol, spec in symbols.items())
    touched_accounts: set[str] = set()
    touched_holdings: set[tuple[str, str]] = set()
    made_holdings: set[tuple[str, str]] = set()  # a buyer's first holding of the symbol
    rows: list[store.OrderRow] = []
    seen: dict[str, store.OrderRow] = dict(existing)

    for raw, request in zip(records, decoded):
        if isinstance(request, DecodeError):
            out.undecodable.append((raw, request))
            continue
        if isinstance(request, CancelRequest):
            _cancel(out, request, seen.get(request.order_id), now_ms, raw)
            continue
        if isinstance(request, CancelAllRequest):
            _cancel_all(out, request, open_symbols, now_ms, raw)
            continue
        prior = seen.get(request.order_id)
        if prior is not None:
            _replay_or_duplicate(out, request, prior, raw)
            continue
        rules = symbols.get(request.symbol)
        reason = check_new_order(request, rules, now_ms)
        account = accounts.get(request.account)
        if reason is None and account is None:
            reason = Reject.UNKNOWN_ACCOUNT
        price = request.price
        reserved_cash = reserved_quantity = 0
        if reason is None:
            key = (request.account, request.symbol)
            if request.order_type == OrderType.MARKET:
                price = market_collar(request.side, rules.market_price, rules.tick_size)
            if request.side == Side.BUY:
                holding = holdings.get(key) or HoldingState(0, 0)
                need = request.quantity * price
                if not within_position_limit(holding.quantity + holding.reserved_quantity,
                                             holding.open_buys, request.quantity,
                                             rules.shares_outstanding):
                    reason = Reject.POSITION_LIMIT
                elif account.cash < need:
                    reason = Reject.INSUFFICIENT_FUNDS
                else:
                    account.cash -= need
                    account.reserved_cash += need
                    reserved_cash = need
                    holding.open_buys += request.quantity
                    if key not in holdings:
                        holdings[key] = holding
                        made_holdings.add(key)
                    touched_accounts.add(request.account)
                    touched_holdings.add(key)
            else:
                holding = holdings.get(key)
                if holding is None or holding.quantity < request.quantity:
                    reason = Reject.INSUFFICIENT_SHARES
                else:
                    holding.quantity -= request.quantity
                    holding.reserved_quantity += request.quantity
                    reserved_quantity = request.quantity
                    touched_holdings.add(key)
        status = OrderStatus.ACCEPTED if reason is None else OrderStatus.REJECTED
        row = store.OrderRow(request.order_id, request.account, request.symbol, request.side,
                             request.order_type, request.tif, request.quantity, price, status,
                             reason, raw.partition, raw.offset, now_ms, reserved_cash,
                             reserved_quantity, request.post_only)
        seen[request.order_id] = row
        if account is not None and reason not in _NOT_RECORDED:
            rows.append(row)
        if status == OrderStatus.ACCEPTED:  # a later cancel-all of this batch covers it
            open_symbols.setdefault(request.account, set()).add(request.symbol)
        _emit_outcome(out, row)

    # sent with the COMMIT; an order id another gate recorded since find_orders (the
    # accounts differ, so no lock was shared) fails the insert: the batch runs again
    await write_accounts(conn, accounts, touched_accounts)
    await write_holdings(conn, holdings, made_holdings, new=True)
    await write_holdings(conn, holdings, touched_holdings - made_holdings)
    await store.insert_orders(conn, rows)
    missing = out.commands.keys() - out.homes.keys()
    if missing:  # symbols are never deleted, so never seen: fails the batch, as a bug
        raise RuntimeError(f"no home partition read for symbols {sorted(missing)}")
    return out


def _emit_outcome(out: GateOutput, row: store.OrderRow) -> None:
    if row.status == OrderStatus.REJECTED:
        _event(out, row.order_id, row.account_id, row.symbol, OrderStatus.REJECTED, row.created_ms,
               reason=row.reject_reason)
        return
    accepted = AcceptedOrder(order_id=row.order_id, account=row.account_id, symbol=row.symbol,
                             side=row.side, order_type=row.order_type, tif=row.tif,
                             quantity=row.quantity, price=row.price, ts=row.created_ms,
                             source_partition=row.source_partition,
                             source_offset=row.source_offset, post_only=row.post_only)
    out.commands.setdefault(row.symbol, []).append(accepted)
    out.accepted += 1
    _event(out, row.order_id, row.account_id, row.symbol, OrderStatus.ACCEPTED, row.created_ms,
           remaining=row.quantity)


def _replay_or_duplicate(out: GateOutput, request: NewOrderRequest, prior: store.OrderRow,
                         raw: RawRecord) -> None:
    if (prior.source_partition, prior.source_offset) == (raw.partition, raw.offset):
        _emit_outcome(out, prior)  # the same record again after a crash: same outcome
    elif _same_order(prior, request):
        pass  # the client sent the same request again (e.g. after a lost ack): one order
    else:
        _event(out, request.order_id, request.account, request.symbol, OrderStatus.REJECTED,
               prior.created_ms, reason=Reject.DUPLICATE_ORDER_ID)


def _same_order(prior: store.OrderRow, request: NewOrderRequest) -> bool:
    """A second copy of the request that made prior (a MARKET order's price is the gate's)."""
    return ((prior.account_id, prior.symbol, prior.side, prior.order_type, prior.tif,
             prior.quantity, prior.post_only) == (
                request.account, request.symbol, request.side, request.order_type,
                request.tif, request.quantity, request.post_only)
            and (request.order_type == OrderType.MARKET or prior.price == request.price))


def _cancel_all(out: GateOutput, request: CancelAllRequest,
                open_symbols: dict[str, set[str]], now_ms: int, raw: RawRecord) -> None:
    """One CancelAll for each symbol where the account has orders open, as far as the
    gate knows (it takes an account's requests in order): the matcher cancels what rests."""
    if not text_ok(request.account) or (request.symbol is not None
                                        and not text_ok(request.symbol)):
        if text_ok(request.account):
            _event(out, "", request.account, "", CANCEL_REJECTED, now_ms,
                   reason=Reject.MALFORMED)
        return
    symbols = open_symbols.get(request.account, set())
    for symbol in sorted(symbols if request.symbol is None else symbols & {request.symbol}):
        out.commands.setdefault(symbol, []).append(AcceptedCancelAll(
            account=request.account, symbol=symbol, ts=now_ms,
            source_partition=raw.partition, source_offset=raw.offset))


def _cancel(out: GateOutput, request: CancelRequest, order: store.OrderRow | None,
            now_ms: int, raw: RawRecord) -> None:
    if check_cancel(request) is not None:
        reason = Reject.MALFORMED
    elif order is None:
        reason = Reject.UNKNOWN_ORDER
    elif order.account_id != request.account:
        reason = Reject.NOT_OWNER
    elif order.status not in OPEN:
        reason = Reject.UNKNOWN_ORDER  # no longer open
    else:
        cancel = AcceptedCancel(order_id=order.order_id, account=order.account_id,
                                symbol=order.symbol, ts=now_ms,
                                source_partition=raw.partition, source_offset=raw.offset)
        out.commands.setdefault(order.symbol, []).append(cancel)
        return
    # the symbol of someone else's order is not disclosed
    symbol = order.symbol if order is not None and reason != Reject.NOT_OWNER else ""
    _event(out, request.order_id, request.account, symbol, CANCEL_REJECTED, now_ms,
           reason=reason)
