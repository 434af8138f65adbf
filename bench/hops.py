"""Where an order's time goes: its latency split into hops, for the orders that traded.

Every stamp is on this machine's wall clock; a hop is measured in whole milliseconds, as
Kafka's timestamps are (but the first, from the planned time), so it reads ±1 ms:
- produce: the sender's produce() call;
- append: the broker's append of the request (`order-requests` with LogAppendTime,
  from the delivery report);
- gate start: the ACCEPTED event's `ts`, the gate's clock when it took the batch;
- gate send: the ACCEPTED event's record timestamp (CreateTime: when the gate produced
  it, after its transaction);
- matcher apply: the first trade's `applied_us` header, when the matcher began the
  batch (streams/matcher_records.py);
- trade sent: the first trade's record timestamp (CreateTime);
- settled: that trade's `settled_ms` in PostgreSQL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

HOPS = (
    ("planned -> produce (sender lateness)", "planned", "produce"),
    ("produce -> broker append", "produce", "append"),
    ("broker append -> gate start", "append", "gate_start"),
    ("gate start -> gate send (transaction)", "gate_start", "gate_send"),
    ("gate send -> matcher apply", "gate_send", "applied"),
    ("matcher apply -> trade sent", "applied", "trade_sent"),
    ("trade sent -> settled", "trade_sent", "settled"),
)
STAMPS = ("planned", "produce", "append", "gate_start", "gate_send", "applied",
          "trade_sent", "settled")


@dataclass
class Stamps:
    """One list per stamp, indexed by request; 0.0: not seen."""

    n: int
    by_name: dict[str, list[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in STAMPS:
            self.by_name.setdefault(name, [0.0] * self.n)

    def __getitem__(self, name: str) -> list[float]:
        return self.by_name[name]


def breakdown(stamps: Stamps, indexes, percentiles) -> dict[str, dict]:
    """Per hop, the percentiles over the requests in `indexes` that have every stamp, so
    that each hop is measured on the same orders."""
    complete = [i for i in indexes if all(stamps[name][i] for name in STAMPS)]
    out = {}
    for label, start, end in HOPS:
        first, second = stamps[start], stamps[end]
        if start == "planned":
            out[label] = percentiles([second[i] - first[i] for i in complete])
        else:  # whole ms on both sides
            out[label] = percentiles([math.floor(second[i]) - math.floor(first[i])
                                      for i in complete])
    out["planned -> settled (the sum)"] = percentiles(
        [stamps["settled"][i] - stamps["planned"][i] for i in complete])
    return out


def print_breakdown(hops: dict[str, dict]) -> None:
    n = next((p.get("n", 0) for p in hops.values()), 0)
    print(f"latency by hop, for the same {n} orders (those that traded on arrival, planned "
          "after the warm-up; ms, Kafka stamps whole ms):")
    print("| hop | p50 | p90 | p99 | max |\n|---|---|---|---|---|")
    for label, p in hops.items():
        if not p.get("n"):
            print(f"| {label} | | | | |")
            continue
        print(f"| {label} | " + " | ".join(f"{p[k]:,.1f}" for k in ("p50", "p90", "p99", "max"))
              + " |")
