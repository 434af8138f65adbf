"""A watch on Faust's table recovery: a changelog partition that stops delivering.

Upstream: https://github.com/faust-streaming/faust/issues/74, /issues/155, /issues/651;
  reads faust/tables/recovery.py `Recovery` and faust/transport/consumer.py `Consumer` state
Checked against: faust-streaming 0.15.3

Faust recovers a table by reading its changelog partitions up to their high-water marks,
and only then starts the agents. If the consumer's position for a partition has moved past
records Faust never handed to the recovery, the recovery waits for them forever and the
stage does nothing (one such hang was seen here, in CI, after a worker was frozen and
thawed).

Each stage checks every CHECK_EVERY_S: a partition with records left to read and no
record received for STALL_S is logged with what the consumer knows of it, then sought
back to where the recovery stands. If it is still stalled STALL_S later, the stage
exits; a fresh process recovers from the changelog (the supervisor's exit policy).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Mapping

log = logging.getLogger("matchstream.recovery")

CHECK_EVERY_S = 5.0
STALL_S = float(os.environ.get("MATCHSTREAM_RECOVERY_STALL_S") or 45.0)


def stalled(now: float, started_at: float, received_at: Mapping, remaining: Mapping,
            stall_s: float) -> list:
    """Partitions with records left to read and none received for stall_s."""
    return sorted((tp for tp, left in remaining.items()
                   if left > 0 and now - max(started_at, received_at.get(tp) or 0.0) >= stall_s),
                  key=str)


class RecoveryWatch:
    def __init__(self, stage: str, stall_s: float = STALL_S) -> None:
        self.stage = stage
        self.stall_s = stall_s
        self._sought: dict = {}  # partition -> (when sought, generation)
        self._task: asyncio.Task | None = None

    def start(self, app) -> None:
        """From the first rebalance on: Faust's own timers start only after recovery."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(app), name="recovery-watch")

    async def _run(self, app) -> None:
        while True:
            await asyncio.sleep(CHECK_EVERY_S)
            try:
                await self.check(app)
            except Exception:  # a watch that fails must not stop the stage
                log.exception("%s: recovery watch failed", self.stage)

    async def check(self, app) -> None:
        recovery = app.tables.recovery
        started_at = recovery._recovery_started_at
        if not recovery.in_recovery or started_at is None:
            self._sought.clear()
            return
        now = time.monotonic()
        generation = app.consumer_generation_id
        for tp in stalled(now, started_at, recovery._active_events_received_at,
                          recovery.active_remaining(), self.stall_s):
            sought_at, sought_in = self._sought.get(tp, (None, None))
            if sought_at is None or sought_in != generation:
                log.error("%s: recovery of %s[%d] stalled for %.0fs: %s; seeking back to %s",
                          self.stage, tp.topic, tp.partition, now - started_at,
                          await _describe(app, recovery, tp), recovery.active_offsets[tp])
                await _seek_back(app, tp, recovery.active_offsets[tp])
                self._sought[tp] = (now, generation)
            elif now - sought_at >= self.stall_s:
                log.error("%s: recovery of %s[%d] still stalled %.0fs after seeking back: "
                          "%s; the stage exits so that a new process recovers", self.stage,
                          tp.topic, tp.partition, now - sought_at,
                          await _describe(app, recovery, tp))
                logging.shutdown()
                os._exit(1)


async def _seek_back(app, tp, offset: int | None) -> None:
    consumer = app.consumer
    consumer.resume_partitions([tp])
    await consumer.seek_wait({tp: max(offset or 0, 0)})


async def _describe(app, recovery, tp) -> str:
    consumer = app.consumer
    try:
        position = await consumer.position(tp)
    except Exception as exc:  # the description must not fail the watch
        position = f"unknown ({exc!r})"
    queues = {str(topic): topic.queue.qsize() for topic in app.topics._topics
              if getattr(topic, "_queue", None) is not None}
    return (f"read to {recovery.active_offsets.get(tp)}, high-water "
            f"{recovery.active_highwaters.get(tp)}, consumer position {position}, last offset "
            f"delivered {consumer._read_offset.get(tp)}, fetching it "
            f"{tp in (consumer._active_partitions or ())}, paused "
            f"{tp in consumer._paused_partitions}, flow active {consumer.flow_active}, "
            f"stream buffers {queues}")
