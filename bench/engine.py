"""Benchmark: the matching core against the brief's naive design on the same flow.

    python -m bench.engine [--commands N] [--deep-orders N] [--deep-commands N] [--seed S]

Workload: one symbol; ~70% LIMIT GTC around a slowly random-walking mid, ~10% MARKET
IOC, ~20% cancels of resting orders (see bench/flow.py); generated before timing.
Excluded: decoding, Kafka, serialising events. Two passes per implementation on a
fresh book: a throughput pass (one timer around the loop) and a latency pass
(perf_counter_ns around each command). The cyclic GC is frozen after warm-up and
disabled while timing.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import time
from array import array

from bench.flow import make_flow, spec
from bench.naive import NaiveBook
from engine.book import Book
from engine.commands import NewOrder


def throughput(make_book, pre, flow) -> float:
    book = make_book()
    for cmd in pre:
        book.apply(cmd)
    apply = book.apply
    gc.collect()
    gc.disable()
    c0 = time.process_time_ns()
    t0 = time.perf_counter_ns()
    for cmd in flow:
        apply(cmd)
    elapsed = time.perf_counter_ns() - t0
    cpu = time.process_time_ns() - c0
    gc.enable()
    return len(flow) / (elapsed / 1e9), len(flow) / (cpu / 1e9)


def latencies(make_book, pre, flow) -> array:
    book = make_book()
    for cmd in pre:
        book.apply(cmd)
    apply = book.apply
    clock = time.perf_counter_ns
    lat = array("q", bytes(8 * len(flow)))
    sizes = array("q", bytes(8 * len(flow)))   # events per command, for the breakdown
    gc.collect()
    gc.disable()
    i = 0
    for cmd in flow:
        t0 = clock()
        out = apply(cmd)
        lat[i] = clock() - t0
        sizes[i] = len(out) if out is not None else 0
        i += 1
    gc.enable()
    return lat, sizes


def breakdown(flow, lat, sizes) -> None:
    """Where the time goes: mean latency per kind of command."""
    groups: dict[str, list[int]] = {}
    for cmd, ns, n in zip(flow, lat, sizes):
        if type(cmd) is NewOrder:
            kind = f"{cmd.type} {'rests' if n == 1 else 'trades'}" if cmd.type == "LIMIT" \
                else "MARKET"
        else:
            kind = type(cmd).__name__
        g = groups.setdefault(kind, [0, 0, 0])
        g[0] += 1
        g[1] += ns
        g[2] += n
    total = sum(lat)
    for kind, (count, ns, n) in sorted(groups.items()):
        print(f"      {kind:<14} {count / len(flow):6.1%} of commands, {ns / total:6.1%} of time,"
              f" mean {ns / count / 1000:6.2f} µs, {n / count:5.1f} events")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def pct(sorted_lat, p: float) -> float:
    return sorted_lat[min(len(sorted_lat) - 1, int(len(sorted_lat) * p))] / 1000


def measure(name, make_book, pre, flow) -> dict:
    rate, cpu_rate = throughput(make_book, pre, flow)
    raw, sizes = latencies(make_book, pre, flow)
    lat = sorted(raw)
    timed_rate = len(lat) / (sum(lat) / 1e9)
    row = {"name": name, "per_s": rate, "cpu_per_s": cpu_rate, "timed_per_s": timed_rate,
           "p50": pct(lat, 0.50), "p99": pct(lat, 0.99), "p999": pct(lat, 0.999),
           "max": lat[-1] / 1000}
    print(f"  {name:<27} {rate:>9,.0f} cmd/s wall, {cpu_rate:>9,.0f} cmd/s CPU (untimed pass);"
          f" {timed_rate:>9,.0f} cmd/s (sum of per-command times); p50 {row['p50']:.2f} µs"
          f"  p99 {row['p99']:.2f} µs  p99.9 {row['p999']:.2f} µs  max {row['max']:.0f} µs",
          flush=True)
    if name == "engine":
        breakdown(flow, raw, sizes)
    return row


def run_flow(title, pre, flow, resting, naive=True) -> dict:
    print(f"\n{title}: {len(flow):,} timed commands, {len(pre):,} preloaded, "
          f"{resting:,} resting at the end", flush=True)
    rows = {"engine": measure("engine", lambda: Book(spec()), pre, flow),
            "engine+levels": measure("engine (level events on)",
                                     lambda: Book(spec(), emit_levels=True), pre, flow),
            "engine wide": measure("engine (SortedList ladder)",
                                   lambda: Book(spec(), wide=True), pre, flow)}
    if naive:
        rows["naive"] = measure("naive (brief design)", NaiveBook, pre, flow)
        ratio = rows["engine"]["per_s"] / rows["naive"]["per_s"]
        cpu_ratio = rows["engine"]["cpu_per_s"] / rows["naive"]["cpu_per_s"]
        print(f"  engine / naive throughput: {ratio:.2f}x wall, {cpu_ratio:.2f}x CPU   "
              f"p99: {rows['naive']['p99'] / rows['engine']['p99']:.2f}x lower", flush=True)
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--commands", type=int, default=1_000_000)
    ap.add_argument("--deep-orders", type=int, default=100_000,
                    help="resting orders preloaded for the deep-book flow (0: skip it)")
    ap.add_argument("--deep-commands", type=int, default=300_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    load = open("/proc/loadavg").read().split()[0] if os.path.exists("/proc/loadavg") else "?"
    print(f"python {platform.python_version()} on {platform.machine()} {_cpu_model()}; "
          f"{os.cpu_count()} cores, load average {load}; single-threaded run, "
          f"GC frozen+disabled while timing")
    t = time.perf_counter()
    pre, flow, resting = make_flow(args.commands, seed=args.seed)
    print(f"generated flow in {time.perf_counter() - t:.1f}s", flush=True)
    # warm-up (specialising interpreter, caches), then freeze what survives
    warm = Book(spec())
    for cmd in flow[: min(len(flow), 100_000)]:
        warm.apply(cmd)
    gc.collect()
    gc.freeze()
    rows = run_flow("flow A (normal book)", pre, flow, resting)
    if args.deep_orders:
        dpre, dflow, dresting = make_flow(args.deep_commands, seed=args.seed + 1,
                                          preload=args.deep_orders)
        gc.collect()
        gc.freeze()
        run_flow("flow B (deep book)", dpre, dflow, dresting)
    e, n = rows["engine"], rows["naive"]
    print(json.dumps({"engine_orders_per_s": round(e["per_s"]),
                      "naive_orders_per_s": round(n["per_s"]),
                      "engine_cpu_orders_per_s": round(e["cpu_per_s"]),
                      "naive_cpu_orders_per_s": round(n["cpu_per_s"]),
                      "p50_us": round(e["p50"], 2), "p99_us": round(e["p99"], 2),
                      "p999_us": round(e["p999"], 2)}))


if __name__ == "__main__":
    main()
