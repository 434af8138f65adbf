"""Python's cyclic garbage collector in the stage processes.

A stage's objects (commands, events, records, rows) are acyclic and freed by reference
counting, so the collector only costs: at Python's default thresholds (700, 10, 10) it
scanned the young objects every 700 allocations and the older ones (the books, Faust's
state) every tenth and hundredth time. And while a batch is worked out its tens of
thousands of objects stay alive, so every collection in it scans them again; the
collector is held off for that work (bench/HISTORY.md has the figures).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

THRESHOLDS = (50_000, 20, 100)


def tune() -> None:
    """At a stage process's start."""
    gc.set_threshold(*THRESHOLDS)


@contextmanager
def paused() -> Iterator[None]:
    """The collector held off for one batch's work: the batch makes no cycles, and any a
    failure leaves are collected once it resumes."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
