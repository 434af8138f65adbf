"""Reconcile a benchmark's ledger at the end of its run (`matchstream reconcile`'s checks)."""

from __future__ import annotations

from infra.settings import Settings


def reconciled(settings: Settings, url: str) -> bool:
    """True if every check passes; prints each one that fails."""
    from ledger.db import make_engine
    from ledger.reconcile import reconcile

    engine = make_engine(url)
    try:
        failed = [c for c in reconcile(engine, settings.kafka_bootstrap,
                                       settings.topic("trades")) if not c.ok]
    finally:
        engine.dispose()
    for check in failed:
        print(f"reconcile: {check.name}: {check.detail}", flush=True)
    return not failed
