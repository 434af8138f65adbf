"""/metrics reports the pipeline's consumer lag: requests waiting with no worker, none once
a worker has processed them."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.integration.test_api_support import api, auth  # noqa: F401
from tests.platform import wait_for


def _lag(api) -> dict[str, int] | None:  # noqa: F811
    """Lag per topic (summed over the stages consuming it) from /metrics, or None when it
    could not be measured."""
    families = {f.name: f for f in text_string_to_metric_families(api.get("/metrics").text)}
    if families["matchstream_consumer_lag_up"].samples[0].value != 1:
        return None
    per_partition: dict[tuple[str, str], int] = {}
    for s in families["matchstream_consumer_lag"].samples:
        key = (s.labels["group"], s.labels["topic"])
        per_partition[key] = per_partition.get(key, 0) + int(s.value)
    totals = {(s.labels["group"], s.labels["topic"]): int(s.value)
              for s in families["matchstream_consumer_topic_lag"].samples}
    assert totals == per_partition
    by_topic: dict[str, int] = {}
    for (_, topic), lag in totals.items():
        by_topic[topic] = by_topic.get(topic, 0) + lag
    return by_topic


def test_metrics_report_consumer_lag(platform, api):  # noqa: F811
    p = platform
    p.symbol("ACME", reference_price=10_000)
    p.account("alice", cash=1_000_000)
    alice = auth(p, "alice")
    for _ in range(5):
        placed = api.post("/v1/orders", headers=alice, json={
            "symbol": "ACME", "side": "BUY", "quantity": 1, "price": 9_000})
        assert placed.status_code == 202, placed.text
    requests = p.topic("order-requests")
    # no worker: all five wait on order-requests (polled: the figure is cached ~1.5 s)
    lag = wait_for(lambda: (_lag(api) or {}).get(requests) == 5 and _lag(api), 30,
                   "five requests reported as lag")
    assert set(lag) == {p.topic(t) for t in ("order-requests", "orders", "matcher-results")}
    assert sum(lag.values()) == 5

    worker = p.start_worker()
    wait_for(lambda: p.scalar("SELECT count(*) FROM orders WHERE status='ACCEPTED'") == 5, 120,
             "the orders accepted", [worker.log_path])
    # every stage has caught up: the gate's input, the matcher's, settlement's
    wait_for(lambda: _lag(api) is not None and not any(_lag(api).values()), 120,
             "consumer lag back to zero", [worker.log_path])
