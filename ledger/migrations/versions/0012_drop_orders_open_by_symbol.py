"""drop orders_open_by_symbol: no query reads orders by symbol and status, and each
order's insert and each settlement update of it (a new status: never HOT) wrote an entry

Revision ID: 0012
Revises: 0011
"""
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('orders_open_by_symbol', table_name='orders')


def downgrade() -> None:
    op.create_index('orders_open_by_symbol', 'orders', ['symbol', 'status'], unique=False)
