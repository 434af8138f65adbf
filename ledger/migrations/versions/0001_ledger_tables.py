"""ledger tables

Revision ID: 0001
Revises: 
Create Date: 2026-11-27 15:34:07.690240
"""
import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('accounts',
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.Text(), server_default='', nullable=False),
    sa.Column('cash', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('reserved_cash', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('created_ms', sa.BigInteger(), server_default=sa.text('(extract(epoch from clock_timestamp()) * 1000)::bigint'), nullable=False),
    sa.CheckConstraint('cash >= 0', name='cash_not_negative'),
    sa.CheckConstraint('reserved_cash >= 0', name='reserved_cash_not_negative'),
    sa.PrimaryKeyConstraint('account_id')
    )
    op.create_table('symbols',
    sa.Column('symbol', sa.String(length=16), nullable=False),
    sa.Column('name', sa.Text(), server_default='', nullable=False),
    sa.Column('tick_size', sa.Integer(), server_default='1', nullable=False),
    sa.Column('lot_size', sa.Integer(), server_default='1', nullable=False),
    sa.Column('max_order_quantity', sa.BigInteger(), server_default='1000000', nullable=False),
    sa.Column('shares_outstanding', sa.BigInteger(), nullable=False),
    sa.Column('reference_price', sa.BigInteger(), nullable=False),
    sa.Column('last_price', sa.BigInteger(), nullable=True),
    sa.Column('last_trade_seq', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('breaker_band_bps', sa.Integer(), server_default='1000', nullable=False),
    sa.Column('breaker_window_ms', sa.BigInteger(), server_default='300000', nullable=False),
    sa.Column('halt_ms', sa.BigInteger(), server_default='300000', nullable=False),
    sa.Column('halted_until_ms', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('created_ms', sa.BigInteger(), server_default=sa.text('(extract(epoch from clock_timestamp()) * 1000)::bigint'), nullable=False),
    sa.CheckConstraint('lot_size > 0', name='lot_size_positive'),
    sa.CheckConstraint('max_order_quantity > 0', name='max_order_quantity_positive'),
    sa.CheckConstraint('reference_price > 0', name='reference_price_positive'),
    sa.CheckConstraint('shares_outstanding > 0', name='shares_outstanding_positive'),
    sa.CheckConstraint('tick_size > 0', name='tick_size_positive'),
    sa.PrimaryKeyConstraint('symbol')
    )
    op.create_table('trades',
    sa.Column('trade_id', sa.String(length=64), nullable=False),
    sa.Column('symbol', sa.String(length=16), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('price', sa.BigInteger(), nullable=False),
    sa.Column('quantity', sa.BigInteger(), nullable=False),
    sa.Column('buy_order_id', sa.String(length=64), nullable=False),
    sa.Column('sell_order_id', sa.String(length=64), nullable=False),
    sa.Column('buyer', sa.String(length=64), nullable=False),
    sa.Column('seller', sa.String(length=64), nullable=False),
    sa.Column('aggressor', sa.String(length=4), nullable=False),
    sa.Column('executed_ms', sa.BigInteger(), nullable=False),
    sa.Column('settled_ms', sa.BigInteger(), server_default=sa.text('(extract(epoch from clock_timestamp()) * 1000)::bigint'), nullable=False),
    sa.CheckConstraint('price > 0', name='trade_price_positive'),
    sa.CheckConstraint('quantity > 0', name='trade_quantity_positive'),
    sa.PrimaryKeyConstraint('trade_id')
    )
    op.create_index('trades_by_buyer', 'trades', ['buyer', 'executed_ms'], unique=False)
    op.create_index('trades_by_seller', 'trades', ['seller', 'executed_ms'], unique=False)
    op.create_index('trades_by_symbol_time', 'trades', ['symbol', 'executed_ms'], unique=False)
    op.create_table('adjustments',
    sa.Column('adjustment_id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('asset', sa.String(length=16), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=True),
    sa.Column('note', sa.Text(), server_default='', nullable=False),
    sa.Column('created_ms', sa.BigInteger(), server_default=sa.text('(extract(epoch from clock_timestamp()) * 1000)::bigint'), nullable=False),
    sa.CheckConstraint('amount <> 0', name='adjustment_not_zero'),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.account_id'], ),
    sa.PrimaryKeyConstraint('adjustment_id'),
    sa.UniqueConstraint('reference')
    )
    op.create_table('holdings',
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('symbol', sa.String(length=16), nullable=False),
    sa.Column('quantity', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('reserved_quantity', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('cost_basis', sa.BigInteger(), server_default='0', nullable=False),
    sa.CheckConstraint('cost_basis >= 0', name='cost_basis_not_negative'),
    sa.CheckConstraint('quantity >= 0', name='quantity_not_negative'),
    sa.CheckConstraint('reserved_quantity >= 0', name='reserved_quantity_not_negative'),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.account_id'], ),
    sa.ForeignKeyConstraint(['symbol'], ['symbols.symbol'], ),
    sa.PrimaryKeyConstraint('account_id', 'symbol')
    )
    op.create_table('orders',
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('symbol', sa.String(length=16), nullable=False),
    sa.Column('side', sa.String(length=4), nullable=False),
    sa.Column('order_type', sa.String(length=6), nullable=False),
    sa.Column('tif', sa.String(length=3), nullable=False),
    sa.Column('quantity', sa.BigInteger(), nullable=False),
    sa.Column('price', sa.BigInteger(), nullable=True),
    sa.Column('filled_quantity', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('cancelled_quantity', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reject_reason', sa.String(length=32), nullable=True),
    sa.Column('reserved_cash', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('reserved_quantity', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('source_partition', sa.Integer(), nullable=True),
    sa.Column('source_offset', sa.BigInteger(), nullable=True),
    sa.Column('created_ms', sa.BigInteger(), server_default=sa.text('(extract(epoch from clock_timestamp()) * 1000)::bigint'), nullable=False),
    sa.Column('updated_ms', sa.BigInteger(), server_default=sa.text('(extract(epoch from clock_timestamp()) * 1000)::bigint'), nullable=False),
    sa.CheckConstraint('filled_quantity >= 0 AND cancelled_quantity >= 0 AND filled_quantity + cancelled_quantity <= quantity', name='filled_within_quantity'),
    sa.CheckConstraint('quantity > 0', name='order_quantity_positive'),
    sa.CheckConstraint('reserved_cash >= 0', name='order_reserved_cash_not_negative'),
    sa.CheckConstraint('reserved_quantity >= 0', name='order_reserved_quantity_not_negative'),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.account_id'], ),
    sa.PrimaryKeyConstraint('order_id')
    )
    op.create_index('orders_by_account', 'orders', ['account_id', 'created_ms'], unique=False)
    op.create_index('orders_open_by_symbol', 'orders', ['symbol', 'status'], unique=False)


def downgrade() -> None:
    op.drop_index('orders_open_by_symbol', table_name='orders')
    op.drop_index('orders_by_account', table_name='orders')
    op.drop_table('orders')
    op.drop_table('holdings')
    op.drop_table('adjustments')
    op.drop_index('trades_by_symbol_time', table_name='trades')
    op.drop_index('trades_by_seller', table_name='trades')
    op.drop_index('trades_by_buyer', table_name='trades')
    op.drop_table('trades')
    op.drop_table('symbols')
    op.drop_table('accounts')
