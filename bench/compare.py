"""bench.load on two checkouts, alternated against the same services: before and after.

    git worktree add ../before <commit>
    python -m bench.compare ../before --rate 100 --seconds 30 --pairs 3 [bench.load args]

Each pair runs the other checkout's bench.load, then this one's (or the reverse, every
other pair, so neither always runs on a machine the other has just warmed), both on
this checkout's services (MATCHSTREAM_HOME). Prints each figure's minimum, median and
worst for each side (bench/summary.py), then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from bench.summary import summarise
from infra.settings import REPO_ROOT, load


def _run(checkout: Path, args: list[str], home: Path) -> dict | None:
    env = dict(os.environ, MATCHSTREAM_HOME=str(home), PYTHONPATH=str(checkout))
    proc = subprocess.run([sys.executable, "-m", "bench.load", *args], cwd=checkout, env=env,
                          capture_output=True, text=True)
    result = None
    for line in proc.stdout.splitlines():
        if line.startswith('{"bench":"load"'):
            result = json.loads(line)
        elif line.startswith("bench.load: reconcile") and result is not None:
            result["reconciled"] = line.endswith("ok")
    if result is None:
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n", file=sys.stderr)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.compare")
    parser.add_argument("before", type=Path, help="the other checkout (e.g. a git worktree)")
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--pairs", type=int, default=3)
    args, more = parser.parse_known_args(argv)  # the rest are bench.load's
    home = load().home
    load_args = ["--rate", f"{args.rate:g}", "--seconds", f"{args.seconds:g}", *more]
    sides = {"before": args.before.resolve(), "after": REPO_ROOT}
    results: dict[str, list[dict]] = {"before": [], "after": []}
    for pair in range(args.pairs):
        order = ["before", "after"] if pair % 2 == 0 else ["after", "before"]
        for side in order:
            result = _run(sides[side], load_args, home)
            if result is not None:
                results[side].append(result)
            print(f"bench.compare: pair {pair + 1}, {side}: " + (
                "failed" if result is None else
                f"worker {result['worker_cpu_ms_per_accepted']} ms/order "
                f"{result['worker_cpu_s_by_stage']}, broker {result['broker_cpu_pct']}%, "
                f"first trade p99 {result['latency']['first_trade_ms'].get('p99')} ms, "
                f"reconciled {result.get('reconciled')}"), flush=True)
    rows = {side: {row["figure"]: row for row in summarise(found)}
            for side, found in results.items()}
    print(f"\n== bench.load {' '.join(load_args)}: {len(results['before'])} runs before "
          f"({sides['before']}), {len(results['after'])} after; min / median / worst")
    print("| figure | before | after |\n|---|---|---|")
    for figure in rows["after"]:
        cells = []
        for side in ("before", "after"):
            row = rows[side].get(figure)
            cells.append("" if row is None else
                         f"{row['min']:,.2f} / {row['median']:,.2f} / {row['worst']:,.2f}")
        print(f"| {figure} | {cells[0]} | {cells[1]} |")
    print(json.dumps({"bench": "compare", "args": load_args, "before": str(sides["before"]),
                      "figures": rows}, separators=(",", ":")))


if __name__ == "__main__":
    main(sys.argv[1:])
