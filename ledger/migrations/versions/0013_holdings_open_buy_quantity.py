"""holdings.open_buy_quantity replaces the partial index orders_open_buys; orders'
fillfactor 45

The gate's position limit reads what an account's open buys of a symbol may still buy
from the holding it locks anyway; the gate adds each accepted buy, settlement takes off
each fill and each released remainder. Without an index whose predicate names `status`,
settlement's orders update is HOT when the new version fits on its page: a batch updates
most rows of a page in one transaction, and 45% leaves room for a new version of each.
The fillfactor applies to pages written from now on.

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

_OPEN_BUYS = ("SELECT account_id, symbol, sum(quantity - filled_quantity - cancelled_quantity) "
              "AS q FROM orders WHERE side = 'BUY' AND status IN ('ACCEPTED', 'PARTIALLY_FILLED') "
              "GROUP BY account_id, symbol")


def upgrade() -> None:
    op.add_column('holdings', sa.Column('open_buy_quantity', sa.BigInteger(), nullable=False,
                                        server_default='0'))
    op.create_check_constraint('open_buy_quantity_not_negative', 'holdings',
                               'open_buy_quantity >= 0')
    op.execute("INSERT INTO holdings (account_id, symbol) SELECT account_id, symbol FROM ("
               + _OPEN_BUYS + ") b ON CONFLICT DO NOTHING")
    op.execute("UPDATE holdings h SET open_buy_quantity = b.q FROM (" + _OPEN_BUYS + ") b "
               "WHERE h.account_id = b.account_id AND h.symbol = b.symbol")
    op.drop_index('orders_open_buys', table_name='orders')
    op.execute('ALTER TABLE orders SET (fillfactor = 45)')


def downgrade() -> None:
    op.execute('ALTER TABLE orders SET (fillfactor = 80)')
    op.create_index('orders_open_buys', 'orders', ['account_id', 'symbol'], unique=False,
                    postgresql_where=sa.text(
                        "side = 'BUY' AND status IN ('ACCEPTED', 'PARTIALLY_FILLED')"))
    op.drop_constraint('open_buy_quantity_not_negative', 'holdings')
    op.drop_column('holdings', 'open_buy_quantity')
