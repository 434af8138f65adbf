"""`matchstream topics --partitions N` grows the Faust stages' changelogs by name
(infra/topics.py CHANGELOGS): the names must be the ones Faust gives the tables, or a
changelog would be left behind its source (and the stage's assignment split)."""

from __future__ import annotations

from infra import topics
from streams.runtime.app import app, settings
from streams.runtime.stages import STAGES, group_id
from tables.books import books
from tables.candles import open_candles
from tables.settlement import settlement_positions


def test_each_table_of_a_stage_is_listed_with_its_source_topic():
    tables = {books: "matcher", settlement_positions: "settlement", open_candles: "settlement"}
    listed = {(stage, table): source for stage, table, source in topics.CHANGELOGS}
    assert listed == {(stage, table.name): STAGES[stage][1][0]
                      for table, stage in tables.items()}
    for table, stage in tables.items():
        # Faust names a changelog after its app id, which is the stage's group id in a stage
        assert table.changelog_topic.get_topic_name() == f"{app.conf.id}-{table.name}-changelog"
        assert topics.changelog(settings, stage, table.name) \
            == f"{group_id(settings, stage)}-{table.name}-changelog"
