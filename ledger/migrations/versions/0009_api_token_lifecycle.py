"""api_tokens: a prefix to name a token by, an expiry and a revocation

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('api_tokens', sa.Column('prefix', sa.String(length=16), nullable=False,
                                          server_default=''))
    op.add_column('api_tokens', sa.Column('expires_ms', sa.BigInteger(), nullable=True))
    op.add_column('api_tokens', sa.Column('revoked_ms', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column('api_tokens', 'revoked_ms')
    op.drop_column('api_tokens', 'expires_ms')
    op.drop_column('api_tokens', 'prefix')
