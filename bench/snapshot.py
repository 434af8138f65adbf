"""The matcher's book snapshots: CPU and bytes to write one, and to read it back.

    python -m bench.snapshot [--orders N] [--seed S] [--repeat R]

A book built from the seeded bench/flow.py mix (N resting orders preloaded, then as many
commands of the timed mix) is snapshotted as the matcher's checkpoint does
(MatcherState.take_dirty_snapshots, once per dirty book) and read back into a book as a
restore does (MatcherState.restore). The zlib-compressed JSON that restores still read
is measured too, for comparison. Each figure is the mean of --repeat runs; the collector
is off while timing. Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
import zlib

import msgspec

from bench.flow import make_flow, spec
from engine import snapshot
from streams.matcher_state import MatcherState


def _mean_ms(work, repeat: int) -> float:
    work()
    started = time.perf_counter()
    for _ in range(repeat):
        work()
    return (time.perf_counter() - started) / repeat * 1e3


def run(orders: int, seed: int, repeat: int) -> dict:
    state = MatcherState()
    symbol_state = state.create(spec(), 0)
    pre, flow, _ = make_flow(orders, seed=seed, preload=orders)
    for command in pre + flow:
        symbol_state.book.apply(command)
    resting = len(symbol_state.book)

    def written() -> bytes:
        symbol_state.dirty = True
        return state.take_dirty_snapshots(every=True)[0][2]

    def old_format() -> bytes:
        data = {"book": snapshot.to_dict(symbol_state.book), "applied": {},
                "gate_marks": {}, "applied_offset": -1}
        return zlib.compress(msgspec.json.encode(data), 1)

    def restored(blob: bytes) -> None:
        MatcherState().restore(symbol_state.book.symbol, blob, 0)

    gc.disable()
    try:
        blob, old = written(), old_format()
        rows = {
            "LZ4 MessagePack (written)": (_mean_ms(written, repeat),
                                          _mean_ms(lambda: restored(blob), repeat), len(blob)),
            "zlib JSON (read only)": (_mean_ms(old_format, repeat),
                                      _mean_ms(lambda: restored(old), repeat), len(old)),
        }
    finally:
        gc.enable()
    return {"bench": "snapshot", "resting_orders": resting, "repeat": repeat,
            "formats": {name: {"write_ms": round(w, 3), "read_ms": round(r, 3), "bytes": b}
                        for name, (w, r, b) in rows.items()}}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=3_000,
                        help="resting orders preloaded, then as many commands of the mix")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args(argv)
    result = run(args.orders, args.seed, args.repeat)
    print(f"book of {result['resting_orders']:,} resting orders, mean of {args.repeat} runs")
    print("| format | write (ms) | read (ms) | bytes |")
    print("|---|---|---|---|")
    for name, row in result["formats"].items():
        print(f"| {name} | {row['write_ms']} | {row['read_ms']} | {row['bytes']:,} |")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
