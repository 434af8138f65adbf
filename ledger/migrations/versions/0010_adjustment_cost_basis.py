"""adjustments.cost_basis: what a share adjustment added to (or took from) the holding's
cost basis, in cents

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('adjustments', sa.Column('cost_basis', sa.BigInteger(), nullable=False,
                                           server_default='0'))


def downgrade() -> None:
    op.drop_column('adjustments', 'cost_basis')
