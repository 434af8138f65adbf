"""consumer progress

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 16:25:17.139838
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('consumer_progress',
    sa.Column('consumer', sa.String(length=64), nullable=False),
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('partition', sa.Integer(), nullable=False),
    sa.Column('next_offset', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('consumer', 'topic', 'partition')
    )


def downgrade() -> None:
    op.drop_table('consumer_progress')
