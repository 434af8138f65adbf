"""CPU per command of the matcher's own work, without Kafka: decode, match, publish, snapshot.

    python -m bench.record_matcher [--orders 200000] [--symbols 50] [--runs 5]

`bench.matcher_stage` runs the whole stage against the broker on this machine, and its
throughput moves by ±20% between runs of the same code. This bench takes out Faust, the
broker and the output: the same `orders` records (bench.matcher_stage's, seeded) go
through `RecordMatcher` in batches of the stage's size, into an output that only counts,
with the books snapshotted every CHECKPOINT_EVERY commands as the checkpoint would with
a backlog. Time is this thread's CPU, so another process's load moves it less. Each run
starts from empty books; the collector is tuned as in a stage process (its generations
carry over between runs, so a run may take an older generation's collection). Prints a
line per run (with the collector's collections and their time), the median and best,
and one JSON line.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time

from bench.load import _symbols
from bench.matcher_stage import _records
from engine.spec import SymbolSpec
from infra import collector
from streams.matcher import CHECKPOINT_EVERY, MAX_BATCH, OUTPUTS
from streams.matcher_records import RecordMatcher
from streams.matcher_state import MatcherState
from streams.runtime.events import FetchedEvent, FetchedMessage
from streams.runtime.health import StageHealth

PARTITIONS = 4


class CollectorClock:
    """Collections by generation, and this thread's CPU time in them, while installed."""

    def __init__(self) -> None:
        self.collections = [0, 0, 0]
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.thread_time()
        else:
            self.seconds += time.thread_time() - self._started
            self.collections[info["generation"]] += 1


class CountingOutput:
    def __init__(self) -> None:
        self.records = 0
        self.bytes = 0

    def send(self, topic, key, value, partition=None, headers=None) -> None:
        self.records += 1
        self.bytes += len(value)


def _events(symbols: list[str], records: list) -> list:
    """The records as the agent would hand them over: a partition per symbol, offsets
    in order within each partition."""
    partition_of = {symbol: k % PARTITIONS for k, symbol in enumerate(symbols)}
    offsets = [0] * PARTITIONS
    out = []
    for symbol, value in records:
        partition = partition_of[symbol]
        out.append(FetchedEvent(symbol.encode(), value,
                                FetchedMessage("orders", partition, offsets[partition])))
        offsets[partition] += 1
    return out


def run_once(symbols: list[str], events: list, commands: int) -> dict:
    state = MatcherState()
    output = CountingOutput()
    matcher = RecordMatcher(state, output, {name: name for name in OUTPUTS}, "orders",
                            "dead-letters", StageHealth("bench"))
    specs = {s: SymbolSpec(s, reference_price=10_000) for s in symbols}
    clock = CollectorClock()
    gc.callbacks.append(clock)
    apply_s = snapshot_s = 0.0
    since_snapshot = 0
    snapshot_bytes = 0
    try:
        for start in range(0, len(events), MAX_BATCH):
            began = time.thread_time()
            decoded = matcher.decode(events[start:start + MAX_BATCH])  # as the stage does
            with collector.paused():
                since_snapshot += matcher.apply(decoded, specs)
                del decoded
            applied = time.thread_time()
            apply_s += applied - began
            if since_snapshot >= CHECKPOINT_EVERY or start + MAX_BATCH >= len(events):
                with collector.paused():
                    snapshot_bytes += sum(len(blob)
                                          for _, _, blob in state.take_dirty_snapshots())
                matcher.take_positions()
                since_snapshot = 0
                snapshot_s += time.thread_time() - applied
    finally:
        gc.callbacks.remove(clock)
    return {"cpu_us_per_command": (apply_s + snapshot_s) / commands * 1e6,
            "collections": clock.collections, "collector_ms": clock.seconds * 1e3,
            "apply_us": apply_s / commands * 1e6, "snapshot_us": snapshot_s / commands * 1e6,
            "records_out": output.records, "bytes_out": output.bytes,
            "snapshot_bytes": snapshot_bytes}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--per-record", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    collector.tune()
    symbols = [s for s, _ in _symbols(args.symbols)]
    records, commands = _records([(s, 0) for s in symbols], args.orders // args.symbols,
                                 args.seed, args.per_record)
    events = _events(symbols, records)
    print(f"bench.record_matcher: {commands:,} commands in {len(events):,} records, "
          f"{args.symbols} symbols, batches of {MAX_BATCH} records", flush=True)
    runs = []
    for k in range(args.runs):
        result = run_once(symbols, events, commands)
        runs.append(result)
        print(f"  run {k + 1}: {result['cpu_us_per_command']:.2f} us CPU per command "
              f"(apply {result['apply_us']:.2f}, snapshots {result['snapshot_us']:.2f}); "
              f"{result['records_out']:,} records out; collector {result['collector_ms']:.0f} "
              f"ms in {result['collections']} collections by generation", flush=True)
    per_command = [r["cpu_us_per_command"] for r in runs]
    median, best = statistics.median(per_command), min(per_command)
    print(f"median {median:.2f} us per command ({1e6 / median:,.0f} commands/s of one core), "
          f"best {best:.2f}")
    print(json.dumps({"bench": "record_matcher", "commands": commands, "records": len(events),
                      "symbols": args.symbols, "runs": args.runs,
                      "median_us_per_command": round(median, 2),
                      "best_us_per_command": round(best, 2),
                      "apply_us_median": round(statistics.median(r["apply_us"] for r in runs), 2),
                      "snapshot_us_median": round(
                          statistics.median(r["snapshot_us"] for r in runs), 2),
                      "records_out": runs[-1]["records_out"],
                      "collections": runs[-1]["collections"],
                      "collector_ms_median": round(
                          statistics.median(r["collector_ms"] for r in runs), 1),
                      "snapshot_bytes": runs[-1]["snapshot_bytes"]}))


if __name__ == "__main__":
    main()
