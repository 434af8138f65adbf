"""Entry point of a Faust worker: registers every agent, then runs the app."""

from __future__ import annotations

import sys

from streams import gate  # noqa: F401  (registers the agent)
from streams.app import app


def main(argv: list[str] | None = None) -> None:
    sys.argv = ["matchstream-worker", "worker", "--loglevel", "info", *(argv or [])]
    app.main()


if __name__ == "__main__":
    main(sys.argv[1:])
