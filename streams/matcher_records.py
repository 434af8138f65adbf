"""`orders` records in, the books' output records out: the matcher stage without Kafka.

streams/matcher.py feeds it Faust events (or records the position guard read back) and
makes what it sends durable; this part only decodes, applies and publishes, so a test
can drive it with stub events. A record that cannot be decoded, one for an unknown
symbol and a command the engine refuses or breaks on become dead letters, and the
batch goes on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping

from engine.spec import SymbolSpec
from schemas.codec import ORDER_BATCH, DecodeError, encode
from schemas.records import OrderBatch
from streams.matcher_state import MatcherState, RebuildError, SymbolState
from streams.publish import TRADES, BatchPublisher
from streams.runtime.dead_letter import DeadLetters, Sink
from streams.runtime.health import StageHealth

log = logging.getLogger("matchstream.matcher")

# a trade record's header: when the matcher began applying its batch (wall clock, µs),
# so that a trace (bench.load) can tell the matcher's time from the time before it
APPLIED_HEADER = "applied_us"


Decoded = list[tuple[object, OrderBatch | DecodeError]]  # (event, its record)


class RecordMatcher:
    def __init__(self, state: MatcherState, output: Sink, topics: Mapping[str, str],
                 orders: str, dead_letters: str, health: StageHealth) -> None:
        self.state = state
        self.output = output
        self.topics = topics  # publish.py topic -> full name
        self.orders = orders
        self.dead_letters = DeadLetters(output, dead_letters, health)
        self.next_offsets: dict[int, int] = {}  # partition -> next offset to apply
        self.moved: set[int] = set()  # partitions applied since the last take_positions
        # partition -> (offset, symbols): after a restore, records before the offset are
        # applied only to these books (MatcherState.catch_up)
        self.catch_up: dict[int, tuple[int, set[str]]] = {}
        self._foreign: set[tuple[str, int]] = set()  # (symbol, partition) already warned of

    @staticmethod
    def decode(events: Iterable) -> Decoded:
        return [(event, ORDER_BATCH.decode(event.value)) for event in events]

    def unknown_symbols(self, decoded: Decoded) -> set[str]:
        return {batch.symbol for _, batch in decoded
                if isinstance(batch, OrderBatch) and self.state.get(batch.symbol) is None}

    def apply(self, decoded: Decoded, specs: Mapping[str, SymbolSpec | None]) -> int:
        """Apply decoded records, send what they publish; how many commands they held.
        `specs`: those of the symbols without a book yet (None: not a symbol)."""
        publisher = BatchPublisher()
        trace = [(APPLIED_HEADER, b"%d" % (time.time_ns() // 1000))]
        commands = 0
        for event, batch in decoded:
            partition, offset = event.message.partition, event.message.offset
            if not self._held(partition, offset, batch):
                commands += self._handle(event, batch, partition, offset, publisher, specs)
            self.next_offsets[partition] = offset + 1
            self.moved.add(partition)
        for name, key, value in publisher.drain():
            if name == TRADES:
                self.output.send(self.topics[name], key, value, headers=trace)
            else:
                self.output.send(self.topics[name], key, value)
        return commands

    def _held(self, partition: int, offset: int, batch) -> bool:
        """Whether a record read again after a restore is held already by every book it
        concerns (or was dead-lettered)."""
        bound = self.catch_up.get(partition)
        return (bound is not None and offset < bound[0]
                and (isinstance(batch, DecodeError) or batch.symbol not in bound[1]))

    def _handle(self, event, batch, partition: int, offset: int, publisher: BatchPublisher,
                specs: Mapping[str, SymbolSpec | None]) -> int:
        if isinstance(batch, DecodeError):
            self.dead_letters.send(batch, self.orders, partition, offset, event.key)
            return 1
        symbol_state = self._symbol_state(batch.symbol, partition, specs)
        if symbol_state is None:
            self.dead_letters.send(DecodeError(f"unknown symbol {batch.symbol!r}", event.value),
                                   self.orders, partition, offset, event.key)
        elif self.state.claim(symbol_state, partition, offset):
            if symbol_state.partition != partition:
                self._warn_foreign(batch.symbol, symbol_state.partition, partition)
            for index, command in enumerate(batch.commands):
                try:
                    events = self.state.apply(symbol_state, command)
                except RebuildError:
                    raise  # the book is lost: a restart restores it from the table
                except Exception as exc:  # the book is what it was before the command
                    publisher.rebind(symbol_state.book)  # which may be a rebuilt copy
                    if not isinstance(exc, ValueError):
                        log.exception("matcher: command %d of %s[%d]@%d broke the engine",
                                      index, self.orders, partition, offset)
                    self.dead_letters.send(DecodeError(
                        f"command {index} of the record cannot be applied: {exc!r}",
                        encode(command)), self.orders, partition, offset, event.key)
                else:
                    if events:
                        publisher.add(symbol_state.book, events)
        return len(batch.commands)

    def _warn_foreign(self, symbol: str, home: int, partition: int) -> None:
        """Once per symbol and partition: its book takes commands from two partitions,
        which a crash may replay in another order (README "Processing guarantees")."""
        if (symbol, partition) not in self._foreign:
            self._foreign.add((symbol, partition))
            log.warning("matcher: %s's commands come from %s[%d] as well as from its book's "
                        "partition %d: recovery is exact only for one partition a symbol "
                        "(the gate's, by key); was %s produced to by hand, or given more "
                        "partitions?", symbol, self.orders, partition, home, self.orders)

    def _symbol_state(self, symbol: str, partition: int,
                      specs: Mapping[str, SymbolSpec | None]) -> SymbolState | None:
        found = self.state.get(symbol)
        if found is not None:
            return found
        spec = specs.get(symbol)
        return self.state.create(spec, partition) if spec is not None else None

    def take_positions(self, also: Iterable[int] = ()) -> dict[int, int]:
        """Next offset of each partition applied since the last call, and of `also`."""
        wanted, self.moved = self.moved.union(also), set()
        return {p: self.next_offsets[p] for p in wanted if p in self.next_offsets}

    def forget(self, partitions: set[int]) -> None:
        self.state.forget_partitions(partitions)
        for partition in partitions:
            self.next_offsets.pop(partition, None)
            self.moved.discard(partition)
            self.catch_up.pop(partition, None)
