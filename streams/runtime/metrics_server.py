"""The worker's /metrics: every stage process's metrics, served by the supervisor.

Stages write their metrics into a folder of files (prometheus_client's multiprocess
mode, PROMETHEUS_MULTIPROC_DIR, set by the supervisor for its children); the supervisor
serves their sum over HTTP. A stage that exits has its live gauges dropped.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"
DEFAULT_PORT = 39464


def port_from_env() -> int:
    raw = os.environ.get("MATCHSTREAM_WORKER_METRICS_PORT", "")
    return int(raw) if raw.strip() else DEFAULT_PORT


def prepare(folder: Path) -> Path:
    """An empty folder for this worker's stage metrics."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def serve(folder: Path, port: int, say) -> None:
    """Serve the stages' metrics on 127.0.0.1:port (0: not at all)."""
    if not port:
        return
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(folder))
    try:
        start_http_server(port, addr="127.0.0.1", registry=registry)
    except OSError as exc:
        say(f"worker: metrics not served, port {port} unavailable ({exc}); set "
            f"--metrics-port or MATCHSTREAM_WORKER_METRICS_PORT\n".encode())
        return
    say(f"worker: metrics on http://127.0.0.1:{port}/metrics\n".encode())


def stage_exited(folder: Path, pid: int) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, str(folder))

