"""orders_open_buys: a partial index for the gate's open-buys look-up

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('orders_open_buys', 'orders', ['account_id', 'symbol'], unique=False,
                    postgresql_where=sa.text(
                        "side = 'BUY' AND status IN ('ACCEPTED', 'PARTIALLY_FILLED')"))


def downgrade() -> None:
    op.drop_index('orders_open_buys', table_name='orders')
