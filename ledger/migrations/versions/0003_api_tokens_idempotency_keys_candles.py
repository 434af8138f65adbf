"""api tokens, idempotency keys, candles

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 16:25:57.152476
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('candles',
    sa.Column('symbol', sa.String(length=16), nullable=False),
    sa.Column('interval', sa.String(length=4), nullable=False),
    sa.Column('start_ms', sa.BigInteger(), nullable=False),
    sa.Column('open', sa.BigInteger(), nullable=False),
    sa.Column('high', sa.BigInteger(), nullable=False),
    sa.Column('low', sa.BigInteger(), nullable=False),
    sa.Column('close', sa.BigInteger(), nullable=False),
    sa.Column('volume', sa.BigInteger(), nullable=False),
    sa.Column('trades', sa.Integer(), nullable=False),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('symbol', 'interval', 'start_ms')
    )
    op.create_table('idempotency_keys',
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), server_default=sa.text('(extract(epoch from clock_timestamp()) * 1000)::bigint'), nullable=False),
    sa.PrimaryKeyConstraint('account_id', 'key')
    )
    op.create_table('api_tokens',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=True),
    sa.Column('is_admin', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('label', sa.Text(), server_default='', nullable=False),
    sa.Column('created_ms', sa.BigInteger(), server_default=sa.text('(extract(epoch from clock_timestamp()) * 1000)::bigint'), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.account_id'], ),
    sa.PrimaryKeyConstraint('token_hash')
    )


def downgrade() -> None:
    op.drop_table('api_tokens')
    op.drop_table('idempotency_keys')
    op.drop_table('candles')
