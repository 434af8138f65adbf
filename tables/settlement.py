"""Settlement's position in each `matcher-results` partition, in a changelog-backed table.

Only positions (tables/raw.py position keys): the ledger itself is in PostgreSQL. A
position is written after the batch it covers is committed there, so it is never ahead
of what is settled; settlement is idempotent, so one behind costs a harmless replay.
"""

from __future__ import annotations

from streams.runtime.app import app, changelog_config, source_partitions
from tables.raw import RawTable

settlement_positions: RawTable = app.tables.add(RawTable(
    app,
    name="settlement-positions",
    key_type=bytes,
    value_type=bytes,
    partitions=source_partitions("matcher-results"),  # changelog = input partition
    extra_topic_configs=changelog_config(),
))
