"""CPU of the worker's stages, the Kafka broker and PostgreSQL: their running totals, and
their rate with no orders flowing."""

from __future__ import annotations

import time

from bench.procstat import cpu_by_stage, cpu_seconds, tree_cpu_seconds
from infra import kafka_broker, postgres
from infra.settings import Settings


def totals(worker_pids: list[int], settings: Settings) -> dict[str, float]:
    """CPU seconds so far, by stage, of the broker and of PostgreSQL (the latter two only
    when the project runs them)."""
    out = cpu_by_stage(worker_pids)
    broker = kafka_broker.running_pid(settings)
    if broker is not None:
        out["broker"] = cpu_seconds(broker)
    database = tree_cpu_seconds(postgres.running_pid(settings))
    if database is not None:
        out["postgres"] = database
    return out


def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: round(v - before.get(k, 0.0), 2) for k, v in after.items()}


def at_rest(worker_pids: list[int], settings: Settings, seconds: float) -> dict[str, float]:
    """Percent of a core each used over `seconds` while nothing was sent."""
    before, started = totals(worker_pids, settings), time.monotonic()
    time.sleep(seconds)
    used, elapsed = totals(worker_pids, settings), time.monotonic() - started
    out = {k: round(v / elapsed * 100, 2) for k, v in spent(before, used).items()}
    out["worker"] = round(sum(v for k, v in out.items()
                              if k not in ("broker", "postgres")), 2)
    return out
