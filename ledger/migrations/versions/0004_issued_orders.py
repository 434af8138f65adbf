"""issued order ids (the API's record of the orders it produced)

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('issued_orders',
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), server_default=sa.text('(extract(epoch from clock_timestamp()) * 1000)::bigint'), nullable=False),
    sa.PrimaryKeyConstraint('order_id')
    )


def downgrade() -> None:
    op.drop_table('issued_orders')
