"""/health: whether Kafka and PostgreSQL answer.

One Kafka admin client for the app's life, and one answer shared for CACHE_S: a burst of
unauthenticated calls makes one check, not a client and a thread each.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import text
from starlette.responses import JSONResponse

from infra.topics import admin

CACHE_S = 1.0


class HealthCheck:
    def __init__(self, settings, db) -> None:
        self._admin = admin(settings)
        self._db = db
        self._lock = asyncio.Lock()
        self._answer: dict[str, str] = {}
        self._at = float("-inf")
        self.checks = 0  # checks made, for the tests

    async def answer(self) -> dict[str, str]:
        async with self._lock:  # callers arriving during a check share its answer
            if time.monotonic() - self._at >= CACHE_S:
                self._answer = {"kafka": await asyncio.to_thread(self._kafka_ok),
                                "postgres": await self._postgres_ok()}
                self._at = time.monotonic()
                self.checks += 1
            return self._answer

    def _kafka_ok(self) -> str:
        try:
            self._admin.list_topics(timeout=2)
            return "ok"
        except Exception as exc:  # noqa: BLE001 - any client failure means unreachable
            return f"unreachable: {exc}"

    async def _postgres_ok(self) -> str:
        try:
            async with self._db.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return "ok"
        except Exception as exc:  # noqa: BLE001 - any driver failure means unreachable
            return f"unreachable: {exc.__class__.__name__}"


async def health(request):
    checks = await request.app.state.health.answer()
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if ok else "degraded", **checks},
                        status_code=200 if ok else 503)
