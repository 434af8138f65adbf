"""symbols.home_partition: the one `orders` partition of a symbol's commands

The gate produces a symbol's commands to this partition and the matcher refuses them on
any other (README "Processing guarantees"). A symbol made from now on gets
murmur2(symbol) over the partitions `orders` has then (ledger/admin.py add_symbol). An
existing symbol gets the partition its key has landed on so far: murmur2 over the 4
partitions `orders` was made with (infra/topics.py PARTITIONS when this was written), so
its book stays where it is.

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

from infra.kafka_client import partition_for

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

ORDERS_PARTITIONS_SO_FAR = 4  # frozen: what existing keys landed on, whatever comes later


def upgrade() -> None:
    op.add_column('symbols', sa.Column('home_partition', sa.Integer(), nullable=True))
    conn = op.get_bind()
    for (symbol,) in conn.execute(sa.text("SELECT symbol FROM symbols")).all():
        conn.execute(sa.text("UPDATE symbols SET home_partition = :p WHERE symbol = :s"),
                     {"p": partition_for(symbol.encode(), ORDERS_PARTITIONS_SO_FAR),
                      "s": symbol})
    op.alter_column('symbols', 'home_partition', nullable=False)
    op.create_check_constraint('home_partition_not_negative', 'symbols', 'home_partition >= 0')


def downgrade() -> None:
    op.drop_constraint('home_partition_not_negative', 'symbols')
    op.drop_column('symbols', 'home_partition')
