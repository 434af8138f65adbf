"""Bring the local services up and down together, and say where they stand."""

from __future__ import annotations

import psycopg

from infra import kafka_broker, postgres, topics
from infra.settings import Settings


def up(settings: Settings, say=print) -> None:
    if settings.manages_kafka:
        kafka_broker.start(settings, say)
    else:
        say(f"kafka: using KAFKA_BOOTSTRAP={settings.kafka_bootstrap} (not started here)")
    if settings.manages_postgres:
        postgres.start(settings, say)
    else:
        say("postgres: using DATABASE_URL (not started here)")
    topics.ensure_topics(settings, say)


def down(settings: Settings, say=print) -> None:
    if settings.manages_kafka:
        kafka_broker.stop(settings, say)
    if settings.manages_postgres:
        postgres.stop(settings, say)


def status(settings: Settings) -> dict[str, str]:
    return {"kafka": _kafka_status(settings), "postgres": _postgres_status(settings)}


def _kafka_status(settings: Settings) -> str:
    try:
        meta = topics.admin(settings).list_topics(timeout=3)
    except Exception as exc:  # unreachable broker: report, do not raise
        return f"unreachable at {settings.kafka_bootstrap} ({exc})"
    ours = [meta.topics[name] for name in map(settings.topic, topics.BY_NAME)
            if name in meta.topics]
    under = sum(1 for topic in ours for p in topic.partitions.values()
                if len(p.isrs) < len(p.replicas))
    brokers = ", ".join(f"{b.id} at {b.host}:{b.port}"
                        for b in sorted(meta.brokers.values(), key=lambda b: b.id))
    return (f"up at {settings.kafka_bootstrap}, {len(meta.brokers)} broker(s) ({brokers}), "
            f"{len(ours)}/{len(topics.TOPICS)} platform topics, "
            f"{under} under-replicated partition(s)")


def _postgres_status(settings: Settings) -> str:
    url = settings.database_url.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
    except psycopg.Error as exc:
        return f"unreachable ({str(exc).strip().splitlines()[0]})"
    return f"up, PostgreSQL {version}"
