"""Entry point of one stage: its own loop on confluent-kafka, or a Faust worker."""

from __future__ import annotations

import asyncio
import importlib
import os
import sys

import uvloop

from infra import collector
from streams.runtime.stages import STAGES


def main(stage: str, argv: list[str] | None = None) -> None:
    os.environ["MATCHSTREAM_STAGE"] = stage  # read by streams.runtime.app: the stage's app id
    collector.tune()
    # every loop of the stage (Faust's, its consumer thread's, the gate's) on libuv
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    # a Faust stage's modules register its agents
    modules = [importlib.import_module(name) for name in STAGES[stage][0]]
    from infra.settings import load

    if hasattr(modules[0], "main"):
        modules[0].main(load())
        return
    from streams.runtime.app import app, settings

    (settings.home / "faust").mkdir(parents=True, exist_ok=True)
    # the worker command enables Faust's web server by default; we serve HTTP from api/
    sys.argv = ["matchstream-worker", "worker", "--without-web", "--loglevel", "info",
                *(argv or [])]
    app.main()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
