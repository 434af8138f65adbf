"""Entry point of a Faust worker: registers every agent, then runs the app."""

from __future__ import annotations

import sys

from streams import candles, gate, matcher, settlement  # noqa: F401  (registers the agents)
from streams.app import app, settings


def main(argv: list[str] | None = None) -> None:
    (settings.home / "faust").mkdir(parents=True, exist_ok=True)
    # the worker command enables Faust's web server by default; we serve HTTP from api/
    sys.argv = ["matchstream-worker", "worker", "--without-web", "--loglevel", "info",
                *(argv or [])]
    app.main()


if __name__ == "__main__":
    main(sys.argv[1:])
