"""Operator actions on the ledger: accounts, deposits and withdrawals, symbols, share transfers.

Every change of cash or shares from outside the market is an adjustment row, so
conservation can be checked: per asset, balances minus adjustments stay constant.
"""

from __future__ import annotations

from psycopg.errors import NumericValueOutOfRange
from sqlalchemy import Engine, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DataError

from infra.kafka_client import partition_for
from ledger.tables import accounts, adjustments, holdings, skipped_records, symbols

CASH = "CASH"


class LedgerError(ValueError):
    """An operator request that cannot be carried out; the message says why."""


class OutOfRange(LedgerError):
    """The request would take a balance or cost basis past the ledger's 64-bit integers."""


def create_account(engine: Engine, account_id: str, name: str = "") -> bool:
    """Create an account; False if it already existed."""
    if not account_id or len(account_id) > 64:
        raise LedgerError(f"account id must be 1 to 64 characters, found {account_id!r}")
    with engine.begin() as conn:
        # rowcount is not reliable for ON CONFLICT DO NOTHING under psycopg 3: ask RETURNING
        result = conn.execute(insert(accounts).values(account_id=account_id, name=name)
                              .on_conflict_do_nothing().returning(accounts.c.account_id))
        return result.first() is not None


def add_symbol(engine: Engine, symbol: str, shares_outstanding: int, reference_price: int,
               tick_size: int = 1, lot_size: int = 1, max_order_quantity: int = 1_000_000,
               name: str = "", *, orders_partitions: int) -> bool:
    """List a symbol; False if it exists. Its home partition, the one `orders` partition
    of its commands for good, is where its key lands among `orders_partitions` (the
    partitions `orders` has now: infra/topics.py partition_count)."""
    if not symbol or len(symbol) > 16 or not symbol.replace(".", "").isalnum():
        raise LedgerError(f"symbol must be 1 to 16 letters or digits, found {symbol!r}")
    for label, value in (("shares outstanding", shares_outstanding),
                         ("reference price", reference_price), ("tick size", tick_size),
                         ("lot size", lot_size), ("max order quantity", max_order_quantity)):
        if type(value) is not int or value <= 0:
            raise LedgerError(f"{label} must be a positive integer, found {value!r}")
    if type(orders_partitions) is not int or orders_partitions <= 0:
        raise LedgerError(f"orders must have partitions, found {orders_partitions!r}")
    if reference_price % tick_size:
        raise LedgerError(f"reference price {reference_price} is not a multiple of the tick "
                          f"size {tick_size}")
    with engine.begin() as conn:
        result = conn.execute(insert(symbols).values(
            symbol=symbol, name=name, shares_outstanding=shares_outstanding,
            reference_price=reference_price, tick_size=tick_size, lot_size=lot_size,
            max_order_quantity=max_order_quantity,
            home_partition=partition_for(symbol.encode(), orders_partitions))
            .on_conflict_do_nothing()
            .returning(symbols.c.symbol))
        return result.first() is not None


def adjust(engine: Engine, account_id: str, asset: str, amount: int,
           reference: str | None = None, note: str = "",
           cost_per_share: int | None = None) -> int:
    """Deposit (+) or withdraw (-) cash (asset CASH) or shares (asset = symbol).

    Idempotent by reference. Returns the new available balance. A withdrawal beyond the
    available balance is refused (reserved funds belong to open orders). Shares coming in
    add `cost_per_share` cents each to the holding's cost basis (default: the symbol's
    reference price), so average cost and P&L stay meaningful; shares going out take
    their share of it, as a sale does.
    """
    if cost_per_share is not None and (type(cost_per_share) is not int
                                       or not 0 <= cost_per_share < 2**40):
        raise LedgerError(f"cost per share must be cents >= 0, found {cost_per_share!r}")
    if type(amount) is not int or amount == 0:
        raise LedgerError(f"amount must be a non-zero integer, found {amount!r}")
    try:
        return _adjust(engine, account_id, asset, amount, reference, note, cost_per_share)
    except DataError as exc:
        if isinstance(exc.orig, NumericValueOutOfRange):
            raise OutOfRange(f"{asset} of {account_id!r} would leave the ledger's 64-bit "
                             "range") from None
        raise


def _adjust(engine: Engine, account_id: str, asset: str, amount: int, reference: str | None,
            note: str, cost_per_share: int | None) -> int:
    with engine.begin() as conn:
        if reference is not None:
            done = conn.execute(select(adjustments.c.adjustment_id)
                                .where(adjustments.c.reference == reference)).first()
            if done:
                return _available(conn, account_id, asset)
        if conn.execute(select(accounts.c.account_id).where(accounts.c.account_id == account_id)
                        .with_for_update()).first() is None:
            raise LedgerError(f"unknown account {account_id!r}")
        if asset == CASH:
            row = conn.execute(text(
                "UPDATE accounts SET cash = cash + :amount WHERE account_id = :id "
                "AND cash + :amount >= 0 RETURNING cash"), {"amount": amount, "id": account_id})
        else:
            reference_price = conn.execute(select(symbols.c.reference_price)
                                           .where(symbols.c.symbol == asset)).scalar()
            if reference_price is None:
                raise LedgerError(f"unknown symbol {asset!r}")
            per_share = reference_price if cost_per_share is None else cost_per_share
            conn.execute(insert(holdings).values(account_id=account_id, symbol=asset)
                         .on_conflict_do_nothing())
            # in: amount x per share; out: the shares' part of the basis (cost_after_sale),
            # in numeric: the product of a basis and a quantity can pass 64 bits
            row = conn.execute(text(
                "UPDATE holdings h SET quantity = h.quantity + :amount, cost_basis = "
                "h.cost_basis + (CASE WHEN :amount > 0 THEN "
                "CAST(:amount AS numeric) * CAST(:per_share AS bigint) ELSE "
                "-div(h.cost_basis * -CAST(:amount AS numeric), h.quantity + h.reserved_quantity) "
                "END) "
                "FROM holdings old WHERE h.account_id = :id AND h.symbol = :symbol "
                "AND old.account_id = h.account_id AND old.symbol = h.symbol "
                "AND h.quantity + :amount >= 0 "
                "RETURNING h.quantity, h.cost_basis - old.cost_basis"),
                {"amount": amount, "id": account_id, "symbol": asset,
                 "per_share": per_share})
        found = row.first()
        if found is None:
            raise LedgerError(f"insufficient available {asset} in {account_id!r} to withdraw "
                              f"{-amount}")
        balance, cost_change = found[0], (found[1] if asset != CASH else 0)
        conn.execute(adjustments.insert().values(account_id=account_id, asset=asset,
                                                 amount=amount, reference=reference, note=note,
                                                 cost_basis=cost_change))
        return balance


def _available(conn, account_id: str, asset: str) -> int:
    if asset == CASH:
        return conn.execute(select(accounts.c.cash)
                            .where(accounts.c.account_id == account_id)).scalar_one()
    return conn.execute(select(holdings.c.quantity).where(
        holdings.c.account_id == account_id, holdings.c.symbol == asset)).scalar_one()


def list_symbols(engine: Engine) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(select(symbols).order_by(symbols.c.symbol)).mappings()
        return [dict(r) for r in rows]


def skip_record(engine: Engine, topic: str, partition: int, offset: int, reason: str) -> bool:
    """Tell a stage blocked on this record to dead-letter it and go on; False if told before."""
    if not reason.strip():
        raise LedgerError("say why the record is skipped (--reason): it goes into the dead letter")
    if partition < 0 or offset < 0:
        raise LedgerError(f"partition and offset must be >= 0, found {partition} and {offset}")
    with engine.begin() as conn:
        return conn.execute(insert(skipped_records).values(
            topic=topic, partition=partition, offset=offset, reason=reason)
            .on_conflict_do_nothing().returning(skipped_records.c.topic)).first() is not None
