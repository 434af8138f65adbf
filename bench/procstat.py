"""CPU time of processes, from /proc, for the benchmarks."""

from __future__ import annotations

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(pid: int, reaped_children: bool = False) -> float:
    """User + system CPU seconds of `pid` so far (with `reaped_children`, also of its
    children that have exited and been waited for); 0 once it is gone."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICK


def process_tree(pid: int) -> list[int]:
    """pid and every descendant of it now."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            todo += [int(c) for c in Path(f"/proc/{current}/task/{current}/children")
                     .read_text().split()]
        except OSError:
            pass
    return found


def tree_cpu_seconds(pid: int | None) -> float | None:
    """CPU seconds of a service and all its processes, those gone included (a server
    that forks a process per connection: PostgreSQL); None without a pid."""
    if pid is None:
        return None
    return cpu_seconds(pid, reaped_children=True) + sum(
        cpu_seconds(child) for child in process_tree(pid)[1:])


def cpu_by_stage(pids: list[int]) -> dict[str, float]:
    """CPU seconds so far of each worker's stage processes, summed per stage (its
    `--stage NAME`); the supervisors themselves count as "supervisor"."""
    out: dict[str, float] = {}
    for worker in pids:
        for pid in process_tree(worker):
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            stage = (argv[argv.index(b"--stage") + 1].decode() if b"--stage" in argv
                     else "supervisor")
            out[stage] = out.get(stage, 0.0) + cpu_seconds(pid)
    return out
