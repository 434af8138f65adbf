"""Consumer positions in PostgreSQL (see streams/progress.py)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


async def load_positions(conn: AsyncConnection, consumer: str,
                         keys: set[tuple[str, int]]) -> dict[tuple[str, int], int]:
    rows = await conn.execute(text(
        "SELECT topic, partition, next_offset FROM consumer_progress WHERE consumer = :c"),
        {"c": consumer})
    return {(r[0], r[1]): r[2] for r in rows if (r[0], r[1]) in keys}


async def store_positions(conn: AsyncConnection, consumer: str,
                          positions: dict[tuple[str, int], int]) -> None:
    """Move positions forward only: a late writer never moves one back."""
    if positions:
        keys = sorted(positions)
        await conn.execute(text(
            "INSERT INTO consumer_progress (consumer, topic, partition, next_offset) "
            "SELECT :c, * FROM unnest(CAST(:t AS text[]), CAST(:p AS int[]), "
            "CAST(:o AS bigint[])) ON CONFLICT (consumer, topic, partition) DO UPDATE SET "
            "next_offset = greatest(consumer_progress.next_offset, excluded.next_offset)"),
            {"c": consumer, "t": [k[0] for k in keys], "p": [k[1] for k in keys],
             "o": [positions[k] for k in keys]})
