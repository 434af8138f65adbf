"""`orders` records in, the books' output records out: the matcher stage without Kafka.

streams/matcher.py feeds it Faust events (or records the position guard read back) and
makes what it sends durable; this part only decodes, applies and publishes, so a test
can drive it with stub events. A record that cannot be decoded, one for an unknown
symbol and a command the engine refuses or breaks on become dead letters, and the
batch goes on.

A record on a partition that is not its symbol's home (produced by hand, or by a gate of
before homes) never reaches a book: each of its commands is rejected NOT_HOME_PARTITION,
so settlement releases what the gate reserved for it, and the book stays the one
partition's, which a replay applies in the same order.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping

from engine.enums import Reject
from engine.spec import SymbolSpec
from schemas.codec import ORDER_BATCH, DecodeError, encode
from schemas.records import OrderBatch
from streams.matcher_state import MatcherState, RebuildError, SymbolState, refusal
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
            commands += self._handle(event, batch, partition, offset, publisher, specs)
            self.next_offsets[partition] = offset + 1
            self.moved.add(partition)
        for name, key, value, partition in publisher.drain():
            if name == TRADES:
                self.output.send(self.topics[name], key, value, headers=trace)
            else:
                self.output.send(self.topics[name], key, value, partition)
        return commands

    def _handle(self, event, batch, partition: int, offset: int, publisher: BatchPublisher,
                specs: Mapping[str, SymbolSpec | None]) -> int:
        if isinstance(batch, DecodeError):
            self.dead_letters.send(batch, self.orders, partition, offset, event.key)
            return 1
        symbol_state = self.state.get(batch.symbol)
        if symbol_state is None:
            spec = specs.get(batch.symbol)
            if spec is None:
                self.dead_letters.send(DecodeError(f"unknown symbol {batch.symbol!r}",
                                                   event.value),
                                       self.orders, partition, offset, event.key)
                return len(batch.commands)
            if spec.home_partition != partition:  # its book is not made here
                self._refuse(batch, spec.home_partition, partition, publisher)
                return len(batch.commands)
            symbol_state = self.state.create(spec)
        elif symbol_state.partition != partition:
            self._refuse(batch, symbol_state.partition, partition, publisher)
            return len(batch.commands)
        if self.state.claim(symbol_state, offset):
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
                        publisher.add(symbol_state.book, events, partition)
        return len(batch.commands)

    def _refuse(self, batch: OrderBatch, home: int, partition: int,
                publisher: BatchPublisher) -> None:
        """Reject every command of a record off its symbol's home partition; warn once per
        symbol and partition (the gate produces to the home: who produced this?)."""
        publisher.refused(batch.symbol, [refusal(command, Reject.NOT_HOME_PARTITION)
                                         for command in batch.commands], home)
        if (batch.symbol, partition) not in self._foreign:
            self._foreign.add((batch.symbol, partition))
            log.warning("matcher: %s's commands on %s[%d] are rejected: its home partition is "
                        "%d (was %s produced to by hand, or by a gate of before homes?)",
                        batch.symbol, self.orders, partition, home, self.orders)

    def take_positions(self, also: Iterable[int] = ()) -> dict[int, int]:
        """Next offset of each partition applied since the last call, and of `also`."""
        wanted, self.moved = self.moved.union(also), set()
        return {p: self.next_offsets[p] for p in wanted if p in self.next_offsets}

    def forget(self, partitions: set[int]) -> None:
        self.state.forget_partitions(partitions)
        for partition in partitions:
            self.next_offsets.pop(partition, None)
            self.moved.discard(partition)
