"""The pipeline's stages: which agents run together in one worker process.

Each stage is its own Faust app (its own consumer group, changelog topics and event
loop), so a machine's cores work on stages in parallel and a slow stage (settlement
waits on PostgreSQL) never holds up another (the matcher). `matchstream worker` runs
one process per stage; `--stage NAME` runs one, e.g. to add processes for a stage.
"""

from __future__ import annotations

from infra.settings import Settings

# stage -> (modules that register its Faust agents, topics it consumes); the matcher
# is no Faust app (streams/matcher.py says why) and has no agent modules
STAGES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "gate": (("streams.gate",), ("order-requests",)),
    "matcher": ((), ("orders",)),
    "settlement": (("streams.settlement",), ("trades", "order-events", "halts")),
    "market": (("streams.candles",), ("trades",)),
}


def group_id(settings: Settings, stage: str) -> str:
    """The stage's consumer group (for Faust stages also the app id)."""
    return f"{settings.app_id}-{stage}"


def consumer_groups(settings: Settings) -> dict[str, tuple[str, ...]]:
    """Consumer group -> the topics (full names) it consumes."""
    return {group_id(settings, stage): tuple(settings.topic(t) for t in topics)
            for stage, (_, topics) in STAGES.items()}
