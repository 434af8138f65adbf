"""Many symbols: routes each command to its symbol's Book."""
from __future__ import annotations

from collections.abc import Iterable

from engine.book import Book
from engine.events import Rejected
from engine.commands import Cancel, NewOrder, Replace
from engine.enums import CommandKind, Reject
from engine.spec import SymbolSpec


class Exchange:
    def __init__(self, specs: Iterable[SymbolSpec], emit_levels: bool = False) -> None:
        self.books: dict[str, Book] = {s.symbol: Book(s, emit_levels) for s in specs}

    def apply(self, cmd) -> list:
        book = self.books.get(cmd.symbol)
        if book is None:
            # no book, so no per-symbol sequence: seq 0
            kind = {NewOrder: CommandKind.NEW, Cancel: CommandKind.CANCEL,
                    Replace: CommandKind.REPLACE}[type(cmd)]
            return [Rejected(cmd.symbol, 0, cmd.ts, cmd.order_id, cmd.account, kind,
                             Reject.UNKNOWN_SYMBOL)]
        return book.apply(cmd)

    def book(self, symbol: str) -> Book:
        return self.books[symbol]
