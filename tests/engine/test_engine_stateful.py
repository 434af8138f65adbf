"""Hypothesis state machine: random command sequences, invariants after every step,
and the same events as the reference matcher."""
from __future__ import annotations

from engine_reference import RefBook
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from engine.book import Book
from engine.commands import Cancel, CancelAll, NewOrder
from engine.enums import OrderType, Side, TimeInForce
from engine.spec import SymbolSpec

SYM = "HYP"
accounts = st.sampled_from(["a", "b", "c"])
sides = st.sampled_from([Side.BUY, Side.SELL])
prices = st.integers(95, 105)
qtys = st.integers(1, 12)
tifs = st.sampled_from([TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK])


class BookMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.spec = SymbolSpec(SYM, band_bps=500, window_ms=20, halt_ms=7)
        self.book = Book(self.spec)
        self.ref = RefBook(self.spec)
        self.ts = 0
        self.n = 0

    @initialize(wide=st.booleans(), emit_levels=st.booleans())
    def choose_book(self, wide, emit_levels):
        self.book = Book(self.spec, emit_levels=emit_levels, wide=wide)

    def send(self, cmd):
        got, want = self.book.apply(cmd), self.ref.apply(cmd)
        if self.book.emit_levels:   # the reference has no market-data feed
            got = [e for e in got if type(e).__name__ != "LevelChanged"]
            want = [e._replace(seq=0) for e in want]
            got = [e._replace(seq=0) for e in got]
        assert [(type(e), *e) for e in got] == [(type(e), *e) for e in want], (cmd, got, want)

    def known_id(self, i):
        return f"o{i % (self.n + 1)}"

    @rule(dt=st.integers(0, 6), account=accounts, side=sides, tif=tifs, qty=qtys, price=prices)
    def limit(self, dt, account, side, tif, qty, price):
        self.ts += dt
        self.n += 1
        self.send(NewOrder(f"o{self.n}", account, SYM, side, OrderType.LIMIT, tif, qty, price,
                           self.ts))

    @rule(account=accounts, side=sides, tif=tifs, qty=qtys, price=prices)
    def post_only(self, account, side, tif, qty, price):
        self.n += 1
        self.send(NewOrder(f"o{self.n}", account, SYM, side, OrderType.LIMIT, tif, qty, price,
                           self.ts, post_only=True))

    @rule(account=accounts, side=sides, qty=qtys, collar=st.none() | prices,
          tif=st.sampled_from([TimeInForce.IOC, TimeInForce.FOK]))
    def market(self, account, side, qty, collar, tif):
        self.n += 1
        self.send(NewOrder(f"o{self.n}", account, SYM, side, OrderType.MARKET, tif, qty, collar,
                           self.ts))

    @rule(account=accounts)
    def cancel_all(self, account):
        self.send(CancelAll(account, SYM, self.ts))

    @rule(i=st.integers(0, 10_000), account=accounts)
    def cancel(self, i, account):
        self.send(Cancel(self.known_id(i), account, SYM, self.ts))

    @invariant()
    def book_is_sound(self):
        self.book.check_invariants()


BookMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=60,
                                         deadline=None)
TestBookMachine = BookMachine.TestCase
