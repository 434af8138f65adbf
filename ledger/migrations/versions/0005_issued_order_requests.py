"""issued orders keep their request, so GET /v1/orders/{id} can show a pending order

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('issued_orders', sa.Column('request', sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    op.drop_column('issued_orders', 'request')
