"""Settlement of trades, release of reservations and halts: one transaction per batch.

A batch's trades and releases take two round trips together (ledger/pg.py): the trades
insert and the locks go out together, then one statement per table and kind of change,
with the rows the batch changed (ledger/effects.py works them out), sent with the COMMIT.
A batch of OVERLAP_FROM trades or more takes three: the locks, then the insert, read
once the batch has been applied here to the locked rows as if every trade were new (the
server inserts meanwhile), and applied again to them with only the new trades if some
were settled before; then the writes.
Halts are one UPDATE. Rows are locked in the order of ledger/locks.py, each table in one
statement for the whole batch: a second, later statement would lock accounts out of
order with a gate that locks some of both (a deadlock, which PostgreSQL breaks after
its deadlock_timeout of 1 s).

Idempotent: a trade is settled only if its row was inserted by this transaction
(trade_id is the key), and an order's remainder is released only once (its
cancelled_quantity is set once).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from engine.enums import Reject
from engine.status import RELEASING
from infra import collector
from ledger import effects
from ledger.arrays import int8s, texts
from ledger.effects import AccountState, HoldingState, OrderState
from ledger.locks import accounts_of, holdings_of, write_accounts, write_holdings
from ledger.pg import Conn, Pending, send
from schemas.records import Halt, OrderEvent, Trade

_INSERT_TRADES = (
    "INSERT INTO trades (trade_id, symbol, seq, price, quantity, buy_order_id, sell_order_id, "
    "buyer, seller, aggressor, executed_ms) "
    "SELECT * FROM unnest(%b::text[], %b::text[], %b::bigint[], %b::bigint[], %b::bigint[], "
    "%b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::bigint[]) "
    "ON CONFLICT (trade_id) DO NOTHING RETURNING trade_id")

_ORDER_STATE = ("order_id, account_id, symbol, side, quantity, price, filled_quantity, "
                "cancelled_quantity, reserved_cash, reserved_quantity, status, reject_reason")

_LOCK_ORDERS = (f"SELECT {_ORDER_STATE} FROM orders WHERE order_id = ANY(%b::text[]) "
                "ORDER BY order_id FOR UPDATE")

# The trades' accounts and the owners of the orders released, in one sorted pass (the
# owners found in the same statement: no round trip to find them first)
_LOCK_ACCOUNTS = (
    "SELECT account_id, cash, reserved_cash FROM accounts WHERE account_id IN "
    "(SELECT unnest(%b::text[]) UNION SELECT account_id FROM orders "
    "WHERE order_id = ANY(%b::text[])) ORDER BY account_id FOR UPDATE OF accounts")

# the trades' holdings and those of the orders released, likewise
_LOCK_HOLDINGS = (
    "SELECT account_id, symbol, quantity, reserved_quantity, cost_basis, open_buy_quantity "
    "FROM holdings WHERE (account_id, symbol) IN (SELECT * FROM unnest(%b::text[], %b::text[]) "
    "UNION SELECT account_id, symbol FROM orders WHERE order_id = ANY(%b::text[])) "
    "ORDER BY account_id, symbol FOR UPDATE OF holdings")

_WRITE_ORDERS = (
    "UPDATE orders o SET filled_quantity = v.f, cancelled_quantity = v.c, "
    "reserved_cash = v.rc, reserved_quantity = v.rq, status = v.st, reject_reason = v.rr, "
    "updated_ms = (extract(epoch from clock_timestamp()) * 1000)::bigint "
    "FROM unnest(%b::text[], %b::bigint[], %b::bigint[], %b::bigint[], %b::bigint[], "
    "%b::text[], %b::text[]) AS v(id, f, c, rc, rq, st, rr) WHERE o.order_id = v.id")

_WRITE_LAST_TRADES = (
    "UPDATE symbols s SET last_price = v.price, last_trade_seq = v.seq "
    "FROM unnest(%b::text[], %b::bigint[], %b::bigint[]) AS v(sym, seq, price) "
    "WHERE s.symbol = v.sym AND s.last_trade_seq < v.seq")

_WRITE_HALTS = (
    "UPDATE symbols s SET halted_until_ms = least(greatest(s.halted_until_ms, v.floor), "
    "v.ceiling) FROM unnest(%b::text[], %b::bigint[], %b::bigint[]) AS v(sym, floor, ceiling) "
    "WHERE s.symbol = v.sym")


# From this many trades a batch takes a third round trip so that the server inserts its
# trades while they are applied here; a smaller one sends its insert with the locks.
OVERLAP_FROM = 1_000


@dataclass(frozen=True, slots=True)
class Settled:
    trades: int  # trades settled that were not before
    released: int  # orders whose remainder was released


def releasable(events: Iterable[OrderEvent]) -> dict[str, OrderEvent]:
    """Order events that release a reservation: cancelled or matcher-rejected orders (also
    those refused before a book, seq 0: NOT_HOME_PARTITION). Not DUPLICATE_ORDER_ID: the
    id is another order's, which holds the reservation."""
    return {e.order_id: e for e in events
            if e.status in RELEASING and e.reason != Reject.DUPLICATE_ORDER_ID}


async def settle(conn: Conn, trades: Sequence[Trade],
                 releases: Sequence[OrderEvent] = ()) -> Settled:
    """Settle the trades not settled before, then give back what cancelled or
    matcher-rejected orders still hold reserved."""
    with collector.paused():  # one transaction's statements, not its commit or retries
        return await _settle(conn, trades, releases)


async def _settle(conn: Conn, trades: Sequence[Trade],
                  releases: Sequence[OrderEvent]) -> Settled:
    unique = sorted({t.trade_id: t for t in trades}.values(), key=lambda t: (t.symbol, t.seq))
    wanted = releasable(releases)
    if not unique and not wanted:
        return Settled(0, 0)
    released_ids = sorted(wanted)
    holding_keys = sorted({k for t in unique
                           for k in ((t.buyer, t.symbol), (t.seller, t.symbol))})
    # every row the batch may touch is locked before knowing which trades are new: a
    # replayed trade costs a lock, not a round trip
    small = len(unique) < OVERLAP_FROM
    inserted = await _insert(conn, _trade_columns(unique)) if small else None
    locked = [
        await send(conn, _LOCK_ACCOUNTS, (
            texts(sorted({a for t in unique for a in (t.buyer, t.seller)})),
            texts(released_ids)), list),
        await send(conn, _LOCK_HOLDINGS, (
            texts([k[0] for k in holding_keys]), texts([k[1] for k in holding_keys]),
            texts(released_ids)), list),
        await send(conn, _LOCK_ORDERS, (texts(sorted(
            {o for t in unique for o in (t.buy_order_id, t.sell_order_id)} | wanted.keys())),),
            list)]
    # a large batch's insert is packed while the server locks, and sent once the locks
    # are read (a read waits for every statement sent): the server inserts while the
    # batch is applied here to the locked rows, as if every trade were new
    columns = None if small else tuple(c.pack() for c in _trade_columns(unique))
    rows = [await pending.result() for pending in locked]
    applied = None
    if inserted is None:
        inserted = await _insert(conn, columns)
        try:
            applied = _apply(unique, *rows)
        except Exception:
            pass  # perhaps a replayed trade's doing: known once the insert answers
    new_ids = await inserted.result()
    if applied is None or len(new_ids) < len(unique):  # only the new ones, on the rows
        applied = _apply([t for t in unique if t.trade_id in new_ids], *rows)
    accounts, holdings, orders, changed = applied
    released = effects.release(wanted, accounts, holdings, orders)
    await _write(conn, accounts, holdings, orders, changed.merge(released))
    if changed.last_trade:
        symbols = sorted(changed.last_trade)
        await conn.execute(_WRITE_LAST_TRADES, (
            texts(symbols), int8s([changed.last_trade[s][0] for s in symbols]),
            int8s([changed.last_trade[s][1] for s in symbols])))
    return Settled(len(new_ids), len(released.orders))


def _apply(new: list[Trade], account_rows: list[tuple], holding_rows: list[tuple],
           order_rows: list[tuple]) -> tuple:
    """The new trades applied to the locked rows: their states and the changes."""
    accounts, holdings = accounts_of(account_rows), holdings_of(holding_rows)
    orders = {r[0]: OrderState(*r) for r in order_rows}
    return accounts, holdings, orders, effects.settle(new, accounts, holdings, orders)


async def apply_halts(conn: Conn, halts: Sequence[Halt]) -> None:
    """Halts and ends of halts, in order, as one UPDATE of the symbols they name."""
    bounds = effects.halt_bounds(halts)
    if bounds:
        symbols = sorted(bounds)
        await conn.execute(_WRITE_HALTS, (symbols, [bounds[s][0] for s in symbols],
                                          [bounds[s][1] for s in symbols]))


def _trade_columns(trades: list[Trade]) -> tuple:
    return (
        texts([t.trade_id for t in trades]), texts([t.symbol for t in trades]),
        int8s([t.seq for t in trades]), int8s([t.price for t in trades]),
        int8s([t.quantity for t in trades]), texts([t.buy_order_id for t in trades]),
        texts([t.sell_order_id for t in trades]), texts([t.buyer for t in trades]),
        texts([t.seller for t in trades]), texts([t.aggressor for t in trades]),
        int8s([t.ts for t in trades]))


async def _insert(conn: Conn, columns: tuple) -> Pending[set[str]]:
    """The trades not recorded before, recorded; answers with their ids."""
    return await send(conn, _INSERT_TRADES, columns, lambda rows: {r[0] for r in rows},
                      when=bool(columns[0]))


async def _write(conn: Conn, accounts: dict[str, AccountState],
                 holdings: dict[tuple[str, str], HoldingState], orders: dict[str, OrderState],
                 changed: effects.Changed) -> None:
    """The changed rows, one statement per table, in lock order."""
    await write_accounts(conn, accounts, changed.accounts)
    await write_holdings(conn, holdings, changed.holdings)
    if changed.orders:
        rows = [orders[k] for k in sorted(changed.orders)]
        await conn.execute(_WRITE_ORDERS, (
            texts([o.order_id for o in rows]), int8s([o.filled for o in rows]),
            int8s([o.cancelled for o in rows]), int8s([o.reserved_cash for o in rows]),
            int8s([o.reserved_quantity for o in rows]), texts([o.status for o in rows]),
            texts([o.reject_reason for o in rows])))
