"""The pipeline's stages and what each consumes.

Each stage is a process of its own (its own consumer group and event loop), so a
machine's cores work on stages in parallel and a slow stage (settlement waits on
PostgreSQL) never holds up another (the matcher). `matchstream worker` runs one process
per stage; `--stage NAME` runs one, e.g. to add processes for a stage.

Settlement and the candles read the same records, so they are two agents of one stage:
one consumer fetches each record once and hands it to both, and Faust commits its offset
once both have acknowledged it. As stages of their own they paid Faust's consumer
twice (~2.3 s of CPU per 30 s at 5,000 orders/s, README "Performance").
"""

from __future__ import annotations

from infra.settings import Settings

# stage -> (its modules, topics it consumes). A module with `main(settings)` runs the
# stage itself on confluent-kafka (the gate, streams/runtime/direct.py: Faust costs
# ~100-250 us a record here); the others register Faust agents on records that carry
# batches (the matcher, settlement, the candles), with their changelog-backed tables
STAGES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "gate": (("streams.gate",), ("order-requests",)),
    "matcher": (("streams.matcher",), ("orders",)),
    "settlement": (("streams.settlement", "streams.candles"), ("matcher-results",)),
}


def group_id(settings: Settings, stage: str) -> str:
    """The stage's consumer group (for a Faust stage also its app id)."""
    return f"{settings.app_id}-{stage}"


def consumer_groups(settings: Settings) -> dict[str, tuple[str, ...]]:
    """Consumer group -> the topics (full names) it consumes."""
    return {group_id(settings, stage): tuple(settings.topic(t) for t in topics)
            for stage, (_, topics) in STAGES.items()}
