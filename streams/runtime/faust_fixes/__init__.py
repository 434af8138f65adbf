"""Every patch of Faust's and aiokafka's behaviour, one module each. Each module's
docstring names the upstream issue or library line it works around and the versions it
was checked against; tests/unit/test_faust_fixes_upstream.py fails when that upstream
behaviour changes.

`install()` puts in place the patches the Faust app is made with (eager delivery, fetch
wait, producer metadata); the stages use the position guard and the recovery watch
themselves.
"""

from __future__ import annotations

import logging
from importlib import metadata

from streams.runtime.faust_fixes import eager_delivery, fetch_wait, producer_metadata

log = logging.getLogger(__name__)

CHECKED_VERSIONS = {"faust-streaming": "0.15.3", "aiokafka": "0.14.0", "mode-streaming": "0.7.1"}


def _installed(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def differing_versions() -> dict[str, str | None]:
    """Installed versions other than the ones the patches were checked against."""
    installed = {name: _installed(name) for name in CHECKED_VERSIONS}
    return {name: version for name, version in installed.items()
            if version != CHECKED_VERSIONS[name]}


def install() -> None:
    """The patches to put in place before the Faust app is made; one warning if the
    installed libraries are not the versions they were checked against."""
    eager_delivery.install()  # records reach the agents without four tasks each
    fetch_wait.install()  # a fetch leaving out buffered partitions comes back soon
    producer_metadata.install()  # every changelog's partitions kept in view
    differing = differing_versions()
    if differing:
        log.warning("streams/runtime/faust_fixes was checked against %s; installed: %s. "
                    "Run tests/unit/test_faust_fixes_upstream.py",
                    ", ".join(f"{name} {CHECKED_VERSIONS[name]}" for name in differing),
                    ", ".join(f"{name} {version or 'none'}"
                              for name, version in differing.items()))
