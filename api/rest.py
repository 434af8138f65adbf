"""REST endpoints: orders, portfolio, trades, symbols, admin (filled in by issue 6)."""

from __future__ import annotations

routes: list = []


async def start(app) -> None:
    """Open what the REST endpoints need (e.g. the Kafka producer)."""


async def stop(app) -> None:
    pass
