"""An independent audit of the ledger, written from first principles in SQL.

It does not use the code under test (ledger/reconcile.py): every account's cash and
every holding are recomputed from the adjustments (deposits, withdrawals, transfers)
plus the settled trades, and every reservation from the open orders' remainders.
Each query returns the rows that disagree; an exact ledger returns none.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

OPEN = "('ACCEPTED', 'PARTIALLY_FILLED')"

CASH = """
WITH deposits AS (SELECT account_id, sum(amount) AS amount FROM adjustments
                  WHERE asset = 'CASH' GROUP BY account_id),
     paid AS (SELECT buyer AS account_id, sum(price * quantity) AS amount FROM trades
              GROUP BY buyer),
     received AS (SELECT seller AS account_id, sum(price * quantity) AS amount FROM trades
                  GROUP BY seller)
SELECT a.account_id, a.cash + a.reserved_cash AS stored,
       coalesce(d.amount, 0) - coalesce(p.amount, 0) + coalesce(r.amount, 0) AS recomputed
FROM accounts a
LEFT JOIN deposits d ON d.account_id = a.account_id
LEFT JOIN paid p ON p.account_id = a.account_id
LEFT JOIN received r ON r.account_id = a.account_id
WHERE a.cash + a.reserved_cash
      <> coalesce(d.amount, 0) - coalesce(p.amount, 0) + coalesce(r.amount, 0)"""

SHARES = """
WITH moves AS (
    SELECT account_id, asset AS symbol, amount FROM adjustments WHERE asset <> 'CASH'
    UNION ALL SELECT buyer, symbol, quantity FROM trades
    UNION ALL SELECT seller, symbol, -quantity FROM trades),
     recomputed AS (SELECT account_id, symbol, sum(amount) AS quantity FROM moves
                    GROUP BY account_id, symbol)
SELECT coalesce(h.account_id, r.account_id), coalesce(h.symbol, r.symbol),
       coalesce(h.quantity + h.reserved_quantity, 0), coalesce(r.quantity, 0)
FROM holdings h FULL JOIN recomputed r
  ON r.account_id = h.account_id AND r.symbol = h.symbol
WHERE coalesce(h.quantity + h.reserved_quantity, 0) <> coalesce(r.quantity, 0)"""

RESERVED_CASH = f"""
WITH needed AS (SELECT account_id,
                       sum((quantity - filled_quantity - cancelled_quantity) * price) AS amount
                FROM orders WHERE side = 'BUY' AND status IN {OPEN} GROUP BY account_id)
SELECT a.account_id, a.reserved_cash, coalesce(n.amount, 0) FROM accounts a
LEFT JOIN needed n ON n.account_id = a.account_id
WHERE a.reserved_cash <> coalesce(n.amount, 0)"""

RESERVED_SHARES = f"""
WITH needed AS (SELECT account_id, symbol,
                       sum(quantity - filled_quantity - cancelled_quantity) AS quantity
                FROM orders WHERE side = 'SELL' AND status IN {OPEN}
                GROUP BY account_id, symbol)
SELECT h.account_id, h.symbol, h.reserved_quantity, coalesce(n.quantity, 0) FROM holdings h
LEFT JOIN needed n ON n.account_id = h.account_id AND n.symbol = h.symbol
WHERE h.reserved_quantity <> coalesce(n.quantity, 0)"""

FILLS = """
WITH traded AS (SELECT order_id, sum(quantity) AS quantity FROM (
        SELECT buy_order_id AS order_id, quantity FROM trades
        UNION ALL SELECT sell_order_id, quantity FROM trades) t GROUP BY order_id)
SELECT o.order_id, o.filled_quantity, coalesce(t.quantity, 0) FROM orders o
LEFT JOIN traded t ON t.order_id = o.order_id
WHERE o.filled_quantity <> coalesce(t.quantity, 0)"""

AUDITS = {"cash = deposits - paid + received": CASH,
          "shares = transfers + bought - sold": SHARES,
          "reserved cash = open buys' remainder x limit": RESERVED_CASH,
          "reserved shares = open sells' remainder": RESERVED_SHARES,
          "filled = sum of the order's trades": FILLS}


def audit(engine: Engine) -> dict[str, list]:
    """{audit: rows that disagree}, for the audits that found any (REPEATABLE READ)."""
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            found = {name: [tuple(r) for r in conn.execute(text(sql))]
                     for name, sql in AUDITS.items()}
    return {name: rows for name, rows in found.items() if rows}
