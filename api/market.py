"""Market data: the API process's Kafka consumer, REST quote/book, WebSocket (issue 5)."""

from __future__ import annotations

routes: list = []


async def start(app) -> None:
    """Start the one Kafka consumer that fans market data out to every socket."""


async def stop(app) -> None:
    pass
