"""A model of the matcher stage's recovery, without Kafka or Faust, for unit tests.

`Log` is the `orders` topic, `Table` the books changelog table with the group's committed
offsets, `Worker` a matcher process: it restores a partition's books at its first read
and checkpoints as streams/matcher.py does (`_restore`, `_table_entries`), around the
real RecordMatcher and MatcherState. `reference` is what a fresh matcher makes of the
whole log (tests/replay.py's rule: each partition in order, a symbol only from its home).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine import snapshot
from engine.events import Trade
from engine.spec import SymbolSpec
from schemas.codec import ORDER_BATCH, encode
from schemas.records import AcceptedCancel, AcceptedOrder, OrderBatch
from streams.matcher_records import RecordMatcher
from streams.matcher_state import MatcherState
from streams.publish import record_of
from streams.runtime.events import FetchedEvent, FetchedMessage
from streams.runtime.health import StageHealth

T0 = 1_700_000_000_000
SPECS = {"ACME": SymbolSpec("ACME", reference_price=100, home_partition=0),
         "BOLT": SymbolSpec("BOLT", reference_price=100, home_partition=1)}
PARTITIONS = (0, 1)
TOPICS = {name: name for name in ("trades", "order-events", "halts", "book", "quotes",
                                  "matcher-results")}


def new(order_id: str, symbol: str, side: str, quantity: int, price: int,
        account: str = "alice", source: tuple[int, int] = (-1, -1)) -> AcceptedOrder:
    return AcceptedOrder(order_id=order_id, account=account, symbol=symbol, side=side,
                         order_type="LIMIT", tif="GTC", quantity=quantity, price=price, ts=T0,
                         source_partition=source[0], source_offset=source[1])


def cancel(order_id: str, symbol: str, account: str = "alice",
           source: tuple[int, int] = (-1, -1)) -> AcceptedCancel:
    return AcceptedCancel(order_id=order_id, account=account, symbol=symbol, ts=T0,
                          source_partition=source[0], source_offset=source[1])


@dataclass
class Log:
    partitions: dict[int, list[bytes]] = field(
        default_factory=lambda: {p: [] for p in PARTITIONS})

    def produce(self, partition: int, symbol: str, *commands) -> int:
        """One `orders` record of the symbol's commands on `partition`; its offset."""
        self.partitions[partition].append(encode(OrderBatch(symbol, list(commands))))
        return len(self.partitions[partition]) - 1


@dataclass
class Table:
    entries: dict[tuple, bytes] = field(default_factory=dict)  # ("book", p, sym) / ("index", p)
    committed: dict[int, int] = field(default_factory=dict)  # the group's, per partition
    written: list[tuple[tuple, bytes]] = field(default_factory=list)  # every write, in order

    def write(self, key: tuple, value: bytes) -> None:
        self.entries[key] = value
        self.written.append((key, value))


@dataclass
class Sent:
    records: list = field(default_factory=list)

    def send(self, topic, key, value, partition=None, headers=None) -> None:
        self.records.append((topic, key, value, partition))


class Worker:
    def __init__(self, log: Log, table: Table, sent: Sent | None = None) -> None:
        self.log, self.table = log, table
        self.state = MatcherState()
        self.sent = sent if sent is not None else Sent()
        self.matcher = RecordMatcher(self.state, self.sent, TOPICS, "orders", "dead-letters",
                                     StageHealth("matcher"))
        self.position: dict[int, int] = {}  # partition -> next offset, once restored

    def read(self, partition: int, count: int | None = None) -> None:
        """The partition's next `count` records (None: all there are) as one batch."""
        if partition not in self.position:
            self._restore(partition)
        start = self.position[partition]
        values = self.log.partitions[partition][start:None if count is None else start + count]
        events = [FetchedEvent(b"", value, FetchedMessage("orders", partition, offset))
                  for offset, value in enumerate(values, start)]
        decoded = self.matcher.decode(events)
        unknown = self.matcher.unknown_symbols(decoded)
        self.matcher.apply(decoded, {symbol: SPECS.get(symbol) for symbol in unknown})
        self.position[partition] = start + len(values)

    def _restore(self, partition: int) -> None:
        """streams/matcher.py `_restore`: Faust delivers from the committed offset."""
        blobs = {key[2]: blob for key, blob in self.table.entries.items()
                 if key[0] == "book" and key[1] == partition}
        index = self.table.entries.get(("index", partition))
        restored = [self.state.restore(symbol, blob, partition) for symbol, blob in blobs.items()]
        delivered = self.table.committed.get(partition, 0)
        self.position[partition] = (0 if index is None else
                                    MatcherState.replay_from(index, restored, delivered))

    def checkpoint(self, every: bool = False) -> None:
        """streams/matcher.py `_table_entries`, then the offsets committed."""
        snapshots = self.state.take_dirty_snapshots(every)
        for symbol, partition, blob in snapshots:
            self.table.write(("book", partition, symbol), blob)
        positions = self.matcher.take_positions(partition for _, partition, _ in snapshots)
        for partition, next_offset in positions.items():
            self.table.write(("index", partition), self.state.index(partition, next_offset))
        self.table.committed.update(positions)

    def books(self) -> dict[str, dict]:
        return {s: snapshot.to_dict(st.book) for s, st in self.state.symbols.items()}

    def published(self, topic: str) -> list[bytes]:
        return [value for name, _, value, _ in self.sent.records if name == topic]

    def partitions_of(self, topic: str) -> set[int | None]:
        """The partitions the records of `topic` were sent to (None: by key)."""
        return {partition for name, _, _, partition in self.sent.records if name == topic}


def reference(log: Log) -> tuple[dict[str, dict], dict[str, bytes]]:
    """(books, trade records by id) of a fresh matcher applying the whole log."""
    state = MatcherState()
    trades = {}
    for partition, values in log.partitions.items():
        for offset, value in enumerate(values):
            batch = ORDER_BATCH.decode(value)
            if SPECS[batch.symbol].home_partition != partition:
                continue  # rejected NOT_HOME_PARTITION
            book = state.get(batch.symbol) or state.create(SPECS[batch.symbol])
            assert state.claim(book, offset)
            for command in batch.commands:
                for event in state.apply(book, command) or ():
                    if type(event) is Trade:
                        trades[event.trade_id] = encode(record_of(event)[1])
    return {s: snapshot.to_dict(st.book) for s, st in state.symbols.items()}, trades
