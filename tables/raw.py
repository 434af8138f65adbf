"""A Faust table of raw bytes whose writes the caller can await.

Agents write these tables from timers as well as from events, and must know when the
broker has a write before they acknowledge the input it covers: `write` sends to the
changelog partition given, and returns the delivery future (a plain table assignment
goes through Faust's buffer, whose flush can return before the record is sent).
Keys starting with NUL hold an agent's position per partition
(streams/runtime/faust_fixes/position_guard.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any

import faust


def position_key(partition: int) -> bytes:
    """Key of an agent's position in one partition (never a symbol: it starts with NUL)."""
    return b"\x00position:%d" % partition


class RawTable(faust.Table):
    def _serializer_from_type(self, typ: Any) -> str:
        return "raw"  # values are bytes made by the agent; Faust would decode them as JSON

    async def write(self, key: bytes, value: bytes | None, partition: int) -> Awaitable:
        """Store locally (None deletes) and send to the changelog; await the result."""
        if value is None:
            self.data.pop(key, None)
        else:
            self.data[key] = value
        return await self.changelog_topic.send(key=key, value=value, partition=partition)

    async def load_positions(self, keys: Mapping[tuple[str, int], int]
                             ) -> dict[tuple[str, int], int]:
        """Stored positions of (topic, partition) keys, for a PositionGuard."""
        found = {key: self.data.get(position_key(key[1])) for key in keys}
        return {key: int(value) for key, value in found.items() if value is not None}
