"""/health: whether Kafka and PostgreSQL answer, checked on each call."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from starlette.responses import JSONResponse

from infra.topics import admin


async def health(request):
    settings = request.app.state.settings
    checks = {"kafka": await asyncio.to_thread(_kafka_ok, settings),
              "postgres": await _postgres_ok(request.app.state.db)}
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if ok else "degraded", **checks},
                        status_code=200 if ok else 503)


def _kafka_ok(settings) -> str:
    try:
        admin(settings).list_topics(timeout=2)
        return "ok"
    except Exception as exc:  # noqa: BLE001 - any client failure means unreachable
        return f"unreachable: {exc}"


async def _postgres_ok(db) -> str:
    try:
        async with db.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:  # noqa: BLE001 - any driver failure means unreachable
        return f"unreachable: {exc.__class__.__name__}"
