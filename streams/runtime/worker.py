"""Entry point of one stage: its own loop on confluent-kafka, or a Faust worker."""

from __future__ import annotations

import gc
import importlib
import os
import sys

from streams.runtime.stages import STAGES

# A stage's objects (commands, events, records) are acyclic and freed by reference
# counting. At Python's default (700, 10, 10) the collector still scanned the young
# objects every 700 allocations, and the older ones (the books, Faust's state) every
# tenth and hundredth time: about a quarter of the matcher stage's CPU in
# bench.matcher_stage (README "Performance").
GC_THRESHOLDS = (50_000, 20, 100)


def main(stage: str, argv: list[str] | None = None) -> None:
    os.environ["MATCHSTREAM_STAGE"] = stage  # read by streams.runtime.app: the stage's app id
    gc.set_threshold(*GC_THRESHOLDS)
    module = importlib.import_module(STAGES[stage][0])  # a Faust stage registers its agents
    from infra.settings import load

    if hasattr(module, "main"):
        module.main(load())
        return
    from streams.runtime.app import app, settings

    (settings.home / "faust").mkdir(parents=True, exist_ok=True)
    # the worker command enables Faust's web server by default; we serve HTTP from api/
    sys.argv = ["matchstream-worker", "worker", "--without-web", "--loglevel", "info",
                *(argv or [])]
    app.main()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
