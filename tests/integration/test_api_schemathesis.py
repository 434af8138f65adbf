"""Schemathesis generates requests from /openapi.json: no endpoint may answer 5xx."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core import NOT_SET

from tests.integration.test_api_support import api, auth  # noqa: F401


def test_no_server_errors_on_generated_requests(platform, api):  # noqa: F811
    platform.symbol("ACME", reference_price=10_000)
    platform.account("alice", cash=1_000_000, ACME=10)
    account, admin = auth(platform, "alice"), auth(platform, None)
    schema = schemathesis.openapi.from_dict(api.get("/openapi.json").json())
    seen: dict[str, set[int]] = {}

    for result in schema.get_all_operations():
        operation = result.ok()
        token = admin if operation.path.startswith("/v1/admin") else account

        @settings(max_examples=30, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case):
            headers = {k: v for k, v in (case.headers or {}).items()
                       if isinstance(v, str) and v.isascii() and v.isprintable()}
            kwargs = {"params": case.query or None, "headers": {**headers, **token}}
            if case.body is not NOT_SET:
                kwargs["json"] = case.body
            response = api.request(case.method, case.formatted_path, **kwargs)
            seen.setdefault(operation.label, set()).add(response.status_code)
            assert response.status_code < 500, (case.method, case.formatted_path, kwargs,
                                                 response.text)
            if response.status_code >= 400 and case.path != "/metrics":
                assert set(response.json()) == {"error"}

        check()
    assert len(seen) == 14, seen
    # generated orders got past decoding into the gate's rules
    assert 422 in seen["POST /v1/orders"], seen
