"""stage heartbeats (the write probe of a stage's error policy) and records an operator
chose to skip

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

NOW_MS = sa.text('(extract(epoch from clock_timestamp()) * 1000)::bigint')


def upgrade() -> None:
    op.create_table('stage_heartbeats',
    sa.Column('stage', sa.String(length=64), nullable=False),
    sa.Column('beat_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('stage')
    )
    op.create_table('skipped_records',
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('partition', sa.Integer(), nullable=False),
    sa.Column('offset', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), server_default=NOW_MS, nullable=False),
    sa.PrimaryKeyConstraint('topic', 'partition', 'offset')
    )


def downgrade() -> None:
    op.drop_table('skipped_records')
    op.drop_table('stage_heartbeats')
