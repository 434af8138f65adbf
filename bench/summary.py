"""The figures of repeated bench.load runs: each one's minimum, median and worst."""

from __future__ import annotations

import statistics
from collections.abc import Callable

Figure = tuple[str, Callable[[dict], float | None], bool]  # label, getter, higher is better


def _get(*path: str) -> Callable[[dict], float | None]:
    def get(result: dict):
        value = result
        for key in path:
            if not isinstance(value, dict) or key not in value:
                return None
            value = value[key]
        return value
    return get


def figures(results: list[dict]) -> list[Figure]:
    out: list[Figure] = [
        ("accepted/s while sending", _get("throughput", "accepted_per_s"), True),
        ("worker CPU per accepted order (ms)", _get("worker_cpu_ms_per_accepted"), False),
        ("broker CPU while sending (% of a core)", _get("broker_cpu_pct"), False),
        ("PostgreSQL CPU while sending (% of a core)", _get("postgres_cpu_pct"), False),
    ]
    for key, name in (("accepted_ms", "accepted"), ("first_trade_ms", "first trade"),
                      ("settled_ms", "settled")):
        for q in ("p50", "p99"):
            out.append((f"{name} {q} (ms)", _get("latency", key, q), False))
    out.append(("s after the last send until every lag is 0", _get("caught_up_s"), False))
    first = results[0] if results else {}
    for hop in first.get("hops", {}):
        for q in ("p50", "p99"):
            out.append((f"hop {hop} {q} (ms)", _get("hops", hop, q), False))
    for part in first.get("rest_cpu_pct", {}):
        out.append((f"at rest: {part} (% of a core)", _get("rest_cpu_pct", part), False))
    return out


def summarise(results: list[dict]) -> list[dict]:
    rows = []
    for label, get, higher_better in figures(results):
        values = [v for v in (get(r) for r in results) if v is not None]
        if not values:
            continue
        worst = min(values) if higher_better else max(values)
        rows.append({"figure": label, "min": min(values),
                     "median": statistics.median(values), "worst": worst,
                     "runs": len(values)})
    return rows


def print_summary(rows: list[dict], runs: int) -> None:
    print(f"\n== {runs} runs: minimum, median and worst of each figure")
    print("| figure | min | median | worst | runs |\n|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['figure']} | {row['min']:,.2f} | {row['median']:,.2f} | "
              f"{row['worst']:,.2f} | {row['runs']} |")
