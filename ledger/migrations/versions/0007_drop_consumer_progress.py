"""drop consumer_progress: no stage keeps its position in PostgreSQL

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table('consumer_progress')


def downgrade() -> None:
    op.create_table('consumer_progress',
    sa.Column('consumer', sa.String(length=64), nullable=False),
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('partition', sa.Integer(), nullable=False),
    sa.Column('next_offset', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('consumer', 'topic', 'partition')
    )
