"""fillfactor below 100 on the tables settlement updates in place, so that an update can
keep the row's new version on its page

An update that changes no indexed column (holdings, accounts) is then HOT: no index
entry is written. An orders update changes its status (indexed) and is never HOT, but its
new version stays on the page. The setting applies to pages written from now on; an
existing table takes it for its old pages only when rewritten (VACUUM FULL).

Revision ID: 0011
Revises: 0010
"""
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# a settlement batch updates most accounts and a good share of the holdings at once, and
# the versions one transaction replaces are not free until it ends: room for each
FILLFACTOR = {'accounts': 50, 'holdings': 70, 'orders': 80}


def upgrade() -> None:
    for table, fillfactor in FILLFACTOR.items():
        op.execute(f'ALTER TABLE {table} SET (fillfactor = {fillfactor})')


def downgrade() -> None:
    for table in FILLFACTOR:
        op.execute(f'ALTER TABLE {table} RESET (fillfactor)')
