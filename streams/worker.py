"""Entry point of one stage: a Faust worker with the stage's agents, or the matcher."""

from __future__ import annotations

import importlib
import os
import sys

from streams.stages import STAGES


def main(stage: str, argv: list[str] | None = None) -> None:
    os.environ["MATCHSTREAM_STAGE"] = stage  # read by streams.app: the stage's app id
    if stage == "matcher":
        from infra.settings import load
        from streams.matcher import main as run_matcher

        run_matcher(load())
        return
    for module in STAGES[stage][0]:
        importlib.import_module(module)  # registers the agents
    from streams.app import app, settings

    (settings.home / "faust").mkdir(parents=True, exist_ok=True)
    # the worker command enables Faust's web server by default; we serve HTTP from api/
    sys.argv = ["matchstream-worker", "worker", "--without-web", "--loglevel", "info",
                *(argv or [])]
    app.main()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
