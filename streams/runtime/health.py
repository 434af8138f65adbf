"""A stage's health as logs and metrics: blocked on the world, and records dead-lettered.

The metrics live in this process; under `matchstream worker` every stage writes them to
the supervisor's multiprocess folder (PROMETHEUS_MULTIPROC_DIR) and the supervisor
serves them all (streams/runtime/metrics_server.py).
"""

from __future__ import annotations

import logging
import time

from prometheus_client import Counter, Gauge, Histogram

log = logging.getLogger("matchstream.health")

BLOCKED = Gauge("matchstream_stage_blocked",
                "1 while the stage is paused by a fault of the world and retrying; it "
                "commits nothing meanwhile", ["stage", "reason"], multiprocess_mode="livemax")
RETRIES = Counter("matchstream_stage_retries", "Retries of a stage's work, by reason",
                  ["stage", "reason"])
DEAD_LETTERS = Counter("matchstream_stage_dead_letters",
                       "Records a stage dead-lettered, by source topic", ["stage", "topic"])

CHECKPOINT_SECONDS = Histogram(
    "matchstream_checkpoint_seconds", "Time of each step of a stage's checkpoint "
    "(streams/runtime/checkpoint.py): capture, flush, tables, ack", ["stage", "step"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5))

REPEAT_LOG_S = 30.0


class StageHealth:
    """Hears from the retry policy (ledger/retry.py Waiting) and from the error policy."""

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self.reason: str | None = None
        self.since = 0.0
        self._last_log = 0.0

    def blocked(self, reason: str, detail: str, retry_in: float) -> None:
        now = time.monotonic()
        if reason != self.reason:
            if self.reason is not None:
                BLOCKED.labels(self.stage, self.reason).set(0)
            else:
                self.since = now
            self.reason = reason
            BLOCKED.labels(self.stage, reason).set(1)
            self._last_log = 0.0
        RETRIES.labels(self.stage, reason).inc()
        if now - self._last_log >= REPEAT_LOG_S:
            self._last_log = now
            log.error("%s: BLOCKED (%s) for %.0fs, retrying in %.2fs, nothing committed "
                      "meanwhile: %s", self.stage, reason, now - self.since, retry_in, detail)

    def cleared(self) -> None:
        if self.reason is None:
            return
        BLOCKED.labels(self.stage, self.reason).set(0)
        log.warning("%s: resumed after %.1fs blocked (%s)", self.stage,
                    time.monotonic() - self.since, self.reason)
        self.reason = None

    def dead_lettered(self, topic: str, count: int = 1) -> None:
        DEAD_LETTERS.labels(self.stage, topic).inc(count)
