"""Admin endpoints, the token CLI, /openapi.json and /metrics."""

from __future__ import annotations

import subprocess
import sys

from infra.settings import REPO_ROOT
from tests.integration.test_api_support import api, auth, error_code  # noqa: F401


def test_admin_accounts_adjustments_symbols(platform, api):  # noqa: F811
    p = platform
    admin = auth(p, None)
    made = api.post("/v1/admin/accounts", json={"account_id": "dave", "name": "Dave"},
                    headers=admin)
    assert made.status_code == 201, made.text
    dave = {"Authorization": f"Bearer {made.json()['token']}"}
    assert api.get("/v1/portfolio", headers=dave).json()["cash"] == {"cents": 0, "amount": "0.00"}
    again = api.post("/v1/admin/accounts", json={"account_id": "dave"}, headers=admin)
    assert (again.status_code, error_code(again)) == (409, "ACCOUNT_EXISTS")

    sym = api.post("/v1/admin/symbols", headers=admin, json={
        "symbol": "ACME", "shares_outstanding": 1_000_000, "reference_price": 15_000,
        "tick_size": 5})
    assert sym.status_code == 201 and sym.json()["reference_price"]["amount"] == "150.00"
    assert error_code(api.post("/v1/admin/symbols", headers=admin, json={
        "symbol": "ACME", "shares_outstanding": 1, "reference_price": 5})) == "SYMBOL_EXISTS"
    assert error_code(api.post("/v1/admin/symbols", headers=admin, json={
        "symbol": "BAD", "shares_outstanding": 1, "reference_price": 7,
        "tick_size": 5})) == "BAD_SYMBOL"
    listed = api.get("/v1/admin/symbols", headers=admin).json()["items"]
    assert [s["symbol"] for s in listed] == ["ACME"]

    url = "/v1/admin/accounts/dave/adjustments"
    deposit = {"asset": "CASH", "amount": 250_000, "reference": "dep-1"}
    assert api.post(url, json=deposit, headers=admin).json()["available"] == 250_000
    retry = api.post(url, json=deposit, headers=admin).json()   # same reference: applied once
    assert retry["available"] == 250_000 and retry["replayed"] is True
    reused = api.post(url, json={**deposit, "amount": 1}, headers=admin)
    assert (reused.status_code, error_code(reused)) == (409, "REFERENCE_REUSED")
    out = api.post(url, json={"asset": "CASH", "amount": -50_000, "reference": "wd-1"},
                   headers=admin)
    assert out.json()["available"] == 200_000
    too_much = api.post(url, json={"asset": "CASH", "amount": -200_001, "reference": "wd-2"},
                        headers=admin)
    assert (too_much.status_code, error_code(too_much)) == (422, "INSUFFICIENT_FUNDS")
    shares = api.post(url, json={"asset": "ACME", "amount": 10, "reference": "sh-1"},
                      headers=admin)
    assert shares.json()["available"] == 10
    assert error_code(api.post(url, json={"asset": "NOPE", "amount": 1, "reference": "x"},
                               headers=admin)) == "UNKNOWN_SYMBOL"
    assert error_code(api.post(url, json={"asset": "CASH", "amount": 0, "reference": "z"},
                               headers=admin)) == "BAD_AMOUNT"
    missing = api.post("/v1/admin/accounts/nobody/adjustments", json=deposit, headers=admin)
    assert (missing.status_code, error_code(missing)) == (404, "NOT_FOUND")
    # the same reference on another account is another adjustment
    api.post("/v1/admin/accounts", json={"account_id": "erin"}, headers=admin)
    assert api.post("/v1/admin/accounts/erin/adjustments", json=deposit,
                    headers=admin).json() == {"account_id": "erin", "asset": "CASH",
                                              "available": 250_000, "replayed": False}
    folio = api.get("/v1/portfolio", headers=dave).json()
    assert folio["cash"]["amount"] == "2000.00"
    assert folio["holdings"][0]["last_price"]["amount"] == "150.00"
    assert p.scalar("SELECT count(*) FROM adjustments") == 4
    p.assert_reconciled()


def test_token_cli_openapi_and_metrics(platform, api):  # noqa: F811
    platform.account("frank")
    env = platform.env()
    run = [sys.executable, "-m", "cli.main", "token"]
    token = subprocess.run([*run, "frank"], cwd=REPO_ROOT, env=env, capture_output=True,
                           text=True, check=True).stdout.strip()
    assert api.get("/v1/orders", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    admin = subprocess.run([*run, "--admin"], cwd=REPO_ROOT, env=env, capture_output=True,
                           text=True, check=True).stdout.strip()
    assert api.get("/v1/admin/symbols",
                   headers={"Authorization": f"Bearer {admin}"}).status_code == 200
    assert subprocess.run([*run, "nobody"], cwd=REPO_ROOT, env=env,
                          capture_output=True, check=False).returncode != 0

    doc = api.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.") and "/v1/orders" in doc["paths"]
    assert {"get", "post"} <= set(doc["paths"]["/v1/orders"])
    metrics = api.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "matchstream_api_request_seconds" in metrics.text
    assert "matchstream_consumer_lag_up 1.0" in metrics.text


def test_tokens_expire_are_listed_by_prefix_and_revoked(platform, api):  # noqa: F811
    from api.auth import issue_token

    p = platform
    p.account("gina")
    env = p.env()
    run = [sys.executable, "-m", "cli.main", "token"]

    def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([*run, *args], cwd=REPO_ROOT, env=env, capture_output=True,
                              text=True, check=check)

    def status(token: str) -> int:
        return api.get("/v1/orders", headers={"Authorization": f"Bearer {token}"}).status_code

    kept, revoked = cli("gina").stdout.strip(), cli("gina", "--label", "laptop").stdout.strip()
    expired = issue_token(p.db, "gina", ttl_days=-1)
    assert [status(t) for t in (kept, revoked, expired)] == [200, 200, 401]
    listed = cli("--list", "gina").stdout
    assert kept[:10] in listed and revoked[:10] in listed and "expired" in listed
    assert kept not in listed and revoked not in listed  # prefixes only
    assert cli("--revoke", revoked[:10]).returncode == 0
    assert [status(t) for t in (kept, revoked)] == [200, 401]
    assert cli("--revoke", revoked[:10], check=False).returncode != 0  # revoked already
    assert "revoked" in cli("--list", "gina").stdout


def test_shares_transferred_in_carry_a_cost_basis(platform, api):  # noqa: F811
    """Given shares were worth nothing to the portfolio: a $100 stock showed an average
    cost of cents and the whole value as unrealised P&L."""
    p = platform
    p.symbol("ACME", reference_price=10_000)
    p.account("hana")
    admin, hana = auth(p, None), auth(p, "hana")

    def adjust(amount: int, reference: str, **extra) -> None:
        r = api.post("/v1/admin/accounts/hana/adjustments", headers=admin, json={
            "asset": "ACME", "amount": amount, "reference": reference, **extra})
        assert r.status_code == 200, r.text

    def holding() -> dict:
        [h] = api.get("/v1/portfolio", headers=hana).json()["holdings"]
        return h

    adjust(100, "in-1")  # at the reference price
    assert (holding()["average_cost"]["cents"], holding()["unrealised_pnl"]["cents"]) == \
        (10_000, 0)
    adjust(100, "in-2", cost_per_share=8_000)
    assert (holding()["cost_basis"]["cents"], holding()["average_cost"]["cents"]) == \
        (1_800_000, 9_000)
    adjust(-50, "out-1")  # takes its share of the basis, as a sale does
    assert (holding()["quantity"], holding()["cost_basis"]["cents"]) == (150, 1_350_000)
    assert [c for (c,) in p.rows("SELECT cost_basis FROM adjustments ORDER BY adjustment_id")
            ] == [1_000_000, 800_000, -450_000]
    out = subprocess.run([sys.executable, "-m", "cli.main", "transfer-in", "hana", "ACME", "10",
                          "--cost", "120.00"], cwd=REPO_ROOT, env=p.env(), capture_output=True,
                         text=True, check=True).stdout
    assert "160 ACME available" in out
    assert holding()["cost_basis"]["cents"] == 1_350_000 + 120_000


def test_large_holdings_move_without_overflow_and_past_64_bits_is_refused(platform, api):  # noqa: F811
    """A withdrawal's share of a large basis (basis x quantity passes 64 bits) was a 500
    (bigint out of range), found by schemathesis; a result past 64 bits is a 422."""
    p = platform
    p.symbol("ACME", reference_price=10_000)
    p.account("ivan")
    admin = auth(p, None)

    def adjust(amount: int, reference: str, **extra):
        return api.post("/v1/admin/accounts/ivan/adjustments", headers=admin, json={
            "asset": "ACME", "amount": amount, "reference": reference, **extra})

    assert adjust(10**12, "in-1", cost_per_share=1_000_000).status_code == 200  # basis 1e18
    r = adjust(-48_194, "out-1")
    assert r.status_code == 200, r.text
    basis = 10**18 - 10**18 * 48_194 // 10**12  # cost_after_sale, floored
    assert p.scalar("SELECT cost_basis FROM holdings WHERE account_id = 'ivan'") == basis
    r = adjust(10**12, "in-2", cost_per_share=10_000_000)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "OUT_OF_RANGE"), r.text
    assert p.scalar("SELECT cost_basis FROM holdings WHERE account_id = 'ivan'") == basis
