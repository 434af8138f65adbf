"""The matcher's books for the symbols one worker owns, with what each has applied.

One writer per book: a symbol's commands come from one `orders` partition, its home
(SymbolSpec.home_partition, where the gate produces them); its book is kept in that
partition's changelog partition, and offsets are that partition's. A command on any
other partition is refused (streams/matcher_records.py) and never reaches a book.

Recovery story (at-least-once delivery, exactly-once effect):
- Each symbol's book is snapshotted, with the last offset it has applied and the
  highest order-requests offset seen from each gate partition, into a changelog-backed
  table. A snapshot costs in proportion to the book (every resting order), so a book is
  snapshotted once the commands applied since its last snapshot are as many as the
  resting orders that snapshot held (at least SNAPSHOT_MIN_COMMANDS), or that snapshot
  is SNAPSHOT_MAX_AGE_S old: a command then costs at most about two resting orders'
  encoding, and a restore replays at most that many commands a book.
- Each checkpoint writes, per partition, an index: the next offset to read, where each
  book's stored snapshot stands, and the first offset each book applied after it
  (`pending`). The committed offset may pass commands no snapshot holds yet; a restore
  replays from the earliest pending offset, so none is lost.
- After a restart or rebalance the book is restored from its snapshot and the input
  is replayed from the committed offset: commands the snapshot already holds are
  skipped by offset, and a command the gate sent twice (a gate replay) is skipped by
  its source offset. Replayed commands come in the partition's one order, so they
  produce the same events with the same ids and sequence numbers, which downstream
  consumers treat idempotently.
- A command that raises inside the engine may have changed the book half way. The book
  is then rebuilt from its last snapshot (or from its spec) and the commands applied
  since, which are kept for that until the next snapshot; the failed command is left
  out, so the book is exactly what it was before it, and the caller dead-letters it.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field

import lz4.frame
import msgspec

from engine import snapshot
from engine.book import Book
from engine.commands import Cancel, CancelAll, NewOrder
from engine.enums import ORDER_TYPES, SIDES, TIFS, CommandKind, Reject
from engine.events import Rejected
from engine.spec import SymbolSpec
from schemas.records import AcceptedCancel, AcceptedCancelAll, AcceptedOrder

_LZ4_MAGIC = b"\x04\x22\x4d\x18"
SNAPSHOT_MIN_COMMANDS = 1_000  # a small book's snapshot is cheap, but not free
SNAPSHOT_MAX_AGE_S = 10.0  # bounds a restore's replay of a book that changes slowly


class RebuildError(RuntimeError):
    """A book could not be put back after a failed command: its state is lost."""


@dataclass(slots=True)
class SymbolState:
    book: Book
    partition: int  # its home: the `orders` partition of its commands and its changelog's
    applied: int = -1  # the last offset of its partition applied
    gate_marks: dict[int, int] = field(default_factory=dict)  # gate partition -> offset
    dirty: bool = False  # applied records since its last snapshot
    base: bytes | None = None  # the last snapshot written or restored; None: a fresh book
    since: list = field(default_factory=list)  # engine commands the book applied since
    saved: int = -1  # `applied` as of `base`
    unsaved_from: int | None = None  # the first offset applied since `base`
    saved_at: float = field(default_factory=time.monotonic)
    saved_size: int = 0  # resting orders in `base`


def to_command(record: AcceptedOrder | AcceptedCancel | AcceptedCancelAll
               ) -> NewOrder | Cancel | CancelAll:
    if type(record) is AcceptedCancel:
        return Cancel(record.order_id, record.account, record.symbol, record.ts)
    if type(record) is AcceptedCancelAll:
        return CancelAll(record.account, record.symbol, record.ts)
    try:  # dict lookups inline: a helper call per field costs more than the lookup
        side, kind, tif = SIDES[record.side], ORDER_TYPES[record.order_type], TIFS[record.tif]
    except KeyError:
        raise ValueError(f"not a valid side, order type and time in force: {record.side!r}, "
                         f"{record.order_type!r}, {record.tif!r}") from None
    return NewOrder(record.order_id, record.account, record.symbol, side, kind, tif,
                    record.quantity, record.price, record.ts, record.post_only)


def refusal(record: AcceptedOrder | AcceptedCancel | AcceptedCancelAll,
            reason: Reject) -> Rejected:
    """A command's rejection made without its book (seq 0): it never reaches one."""
    command = CommandKind.NEW if type(record) is AcceptedOrder else CommandKind.CANCEL
    order_id = "" if type(record) is AcceptedCancelAll else record.order_id
    return Rejected(record.symbol, 0, record.ts, order_id, record.account, command, reason)


class MatcherState:
    def __init__(self) -> None:
        self.symbols: dict[str, SymbolState] = {}
        self._all_due = False

    def get(self, symbol: str) -> SymbolState | None:
        return self.symbols.get(symbol)

    def restore(self, symbol: str, blob: bytes, partition: int) -> SymbolState:
        """The book kept in changelog partition `partition`, its home."""
        data = decode_snapshot(blob)
        if "applied" in data:  # written when a book took commands from several partitions
            applied = {int(p): offset for p, offset in data["applied"].items()}.get(partition, -1)
        else:
            applied = data["applied_offset"]
        state = SymbolState(snapshot.from_dict(data["book"], emit_levels=True), partition,
                            applied, {int(k): v for k, v in data["gate_marks"].items()},
                            base=blob, saved=applied)
        state.saved_size = len(state.book)
        self.symbols[symbol] = state
        return state

    def create(self, spec: SymbolSpec) -> SymbolState:
        """A fresh book, kept in its home partition's changelog partition."""
        state = SymbolState(Book(spec, emit_levels=True), spec.home_partition)
        self.symbols[spec.symbol] = state
        return state

    def claim(self, state: SymbolState, offset: int) -> bool:
        """Whether the book has yet to apply the `orders` record at `offset` of its home
        partition; it counts as applied from now on (a record is applied whole, between
        snapshots)."""
        if offset <= state.applied:
            return False
        state.applied = offset
        if state.unsaved_from is None:
            state.unsaved_from = offset
        state.dirty = True
        return True

    def apply(self, state: SymbolState, record: AcceptedOrder | AcceptedCancel) -> list | None:
        """Events of one command of a claimed record, or None when the gate sent its request
        twice.

        Raises ValueError for a command the engine cannot express (e.g. an unknown side),
        changing nothing. Any exception from the engine is raised again once the book is
        back to what it was before the command. RebuildError when the book cannot be put
        back.
        """
        command = to_command(record)
        source = record.source_partition
        if source >= 0:  # -1: not from the gate
            if record.source_offset <= state.gate_marks.get(source, -1):
                return None  # the gate sent this request twice
            state.gate_marks[source] = record.source_offset
        try:
            events = state.book.apply(command)
        except Exception:
            state.book = _rebuilt(state)
            raise
        state.since.append(command)
        return events

    def expire(self) -> None:
        """Every changed book is due at the next take (a revocation: its new owner then
        replays little)."""
        self._all_due = True

    def snapshots_due(self) -> bool:
        now = time.monotonic()
        return any(state.dirty and self._due(state, now) for state in self.symbols.values())

    def _due(self, state: SymbolState, now: float) -> bool:
        return (self._all_due
                or len(state.since) >= max(SNAPSHOT_MIN_COMMANDS, state.saved_size)
                or now - state.saved_at >= SNAPSHOT_MAX_AGE_S)

    def take_dirty_snapshots(self, every: bool = False) -> list[tuple[str, int, bytes]]:
        """(symbol, partition, snapshot) of the changed books that are due (`every`: of all
        changed books)."""
        now = time.monotonic()
        every, self._all_due = every or self._all_due, False
        out = []
        for symbol, state in self.symbols.items():
            if state.dirty and (every or self._due(state, now)):
                data = {"book": snapshot.to_dict(state.book, copy=False),
                        "applied_offset": state.applied, "gate_marks": state.gate_marks}
                blob = lz4.frame.compress(msgspec.msgpack.encode(data))
                state.base, state.since, state.dirty = blob, [], False
                state.saved, state.unsaved_from = state.applied, None
                state.saved_at, state.saved_size = now, len(state.book)
                out.append((symbol, state.partition, blob))
        return out

    def index(self, partition: int, next_offset: int) -> bytes:
        """Where the books kept in changelog partition `partition` stand in `orders`
        partition `partition`. Written after the books at each checkpoint:
        - `books`: where each stored snapshot stands (a restore tells one written late);
        - `pending`: the first offset each book applied after its snapshot;
        - `next`: where a restore reads from, the earliest of `next_offset` (after the
          last record applied) and `pending`."""
        books, pending = {}, {}
        for symbol, state in self.symbols.items():
            if state.partition == partition:
                if state.base is not None:
                    books[symbol] = state.saved
                if state.unsaved_from is not None:
                    pending[symbol] = state.unsaved_from
        return msgspec.json.encode({"next": min([next_offset, *pending.values()]),
                                    "books": books, "pending": pending})

    @staticmethod
    def replay_from(index: bytes | None, books: list[SymbolState], committed: int) -> int:
        """The `orders` offset to read a partition from after a restore of its books: the
        committed one, unless the last index's `next` is before it (a book applied
        commands its snapshot does not hold, or the commit failed), or a book snapshot is
        behind the index (written late by a matcher the group had moved on from: its
        commit failed, its write did not). Books ahead of that offset skip what they have
        applied."""
        if committed < 0 or index is None:
            return committed
        data = msgspec.json.decode(index)
        behind = _behind(data, books)
        return min([committed, data["next"], *(mine + 1 for mine in behind.values())])

    def forget_partitions(self, partitions: set[int]) -> None:
        """Drop books whose partition moved to another worker: it will restore them."""
        for symbol in [s for s, st in self.symbols.items() if st.partition in partitions]:
            del self.symbols[symbol]


def _behind(index: dict, books: list[SymbolState]) -> dict[str, int]:
    """symbol -> offset applied, of the books whose restored snapshot is behind where the
    index says their stored snapshot stands (a missing one: -1)."""
    restored = {state.book.symbol: state for state in books}
    out = {}
    for symbol, stored in index["books"].items():
        state = restored.get(symbol)
        mine = state.applied if state is not None else -1
        if mine < stored:
            out[symbol] = mine
    return out


def decode_snapshot(blob: bytes) -> dict:
    """A book snapshot: LZ4-compressed MessagePack, or zlib-compressed JSON as written
    before (bench.snapshot: a third of the CPU to write, for 15% more bytes)."""
    if blob[:4] == _LZ4_MAGIC:
        return msgspec.msgpack.decode(lz4.frame.decompress(blob))
    if blob[:1] == b"\x78":  # zlib's header
        return msgspec.json.decode(zlib.decompress(blob))
    raise ValueError(f"not a book snapshot: starts {blob[:4].hex()}")


def _rebuilt(state: SymbolState) -> Book:
    """The book from its last snapshot and the commands applied since (their events were
    returned when they were applied; the same ones again are dropped)."""
    try:
        if state.base is None:
            book = Book(state.book.spec, emit_levels=True)
        else:
            data = decode_snapshot(state.base)
            book = snapshot.from_dict(data["book"], emit_levels=True)
        for command in state.since:
            book.apply(command)
    except Exception as exc:
        raise RebuildError(f"book {state.book.symbol} could not be rebuilt: {exc}") from exc
    return book
