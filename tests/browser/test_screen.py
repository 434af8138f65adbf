"""The trading screen in headless Chromium against Kafka, a worker, PostgreSQL and the API:
watch the market, sign in, trade, see fills and the portfolio, cancel, read rejections,
see a halt. Screenshots of each step go to the `artifacts` folder (printed)."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect

from api.auth import issue_token
from tests.browser.conftest import TIMEOUT
from tests.platform import wait_for

WAIT_MS = TIMEOUT * 1000


def test_trading_screen(platform, api_server, chromium, artifacts):
    p, api = platform, api_server
    p.symbol("ACME", reference_price=10_000, tick_size=5)
    p.symbol("BOLT", reference_price=5_000)
    p.account("alice", cash=1_000_000)              # $10,000.00
    p.account("bob", cash=1_000_000, ACME=200)
    p.account("carol", cash=1_000_000, ACME=200)
    alice, bob, carol = (issue_token(p.db, a) for a in ("alice", "bob", "carol"))
    worker = p.start_worker()
    p.wait_ready(worker)

    def order(token, side, quantity, price):
        r = api.post("/v1/orders", token, {"symbol": "ACME", "side": side,
                                           "quantity": quantity, "price": price})
        assert r.status_code == 202, r.text
        return r.json()["order_id"]

    # a market before the page opens: a trade at 101.00, a bid at 99.00, an offer at 101.00
    order(bob, "BUY", 10, 9_900)
    carol_offer = order(carol, "SELL", 20, 10_100)
    wait_for(lambda: p.scalar("SELECT count(*) FROM orders") == 2, TIMEOUT,
             "the resting orders", [worker.log_path])
    order(bob, "BUY", 5, 10_100)

    expect.set_options(timeout=WAIT_MS)
    page = chromium.new_page(viewport={"width": 1440, "height": 960})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    shot = _shooter(page, artifacts)
    try:
        # public market data, before signing in
        page.goto(f"{api.url}/screen/?symbol=ACME")
        expect(page.locator("#symbol")).to_have_value("ACME")
        expect(page.locator("#symbol option")).to_have_count(2)
        expect(page.locator('#asks tr[data-price="10100"] td').nth(1)).to_have_text("15")
        expect(page.locator('#bids tr[data-price="9900"] td').nth(1)).to_have_text("10")
        expect(page.locator("#tape tr").first).to_contain_text("101.00")
        expect(page.locator("#last")).to_have_text("101.00")
        expect(page.locator("#chart")).to_have_attribute("data-candles", re.compile("[1-9]"))
        expect(page.locator("#halt-badge")).to_be_hidden()
        shot("1-market")
        page.click('#intervals button[data-interval="5m"]')
        expect(page.locator("#chart")).to_have_attribute("data-candles", re.compile("[1-9]"))

        # a bad token is refused in words; alice's works
        page.fill("#token", "ms_not-a-token")
        page.click("#signin button")
        expect(page.locator("#signin-msg")).to_contain_text("not accepted")
        page.fill("#token", alice)
        page.click("#signin button")
        expect(page.locator("#account")).to_have_text("alice")
        expect(page.locator("#cash")).to_have_text("10,000.00")
        expect(page.locator("#no-orders")).to_be_visible()
        shot("2-signed-in")

        # the API's own refusal: 100.01 is off the 0.05 tick
        _ticket(page, "BUY", "1", "100.01")
        expect(page.locator("#ticket-msg")).to_contain_text("multiple of the tick size (0.05)")

        # a buy from the page rests, then fills against bob's sell (sent through the API)
        _ticket(page, "BUY", "10", "100.00")
        row = page.locator("#open-orders tr", has_text="100.00")
        expect(row).to_contain_text("accepted")
        buy_id = row.get_attribute("data-order-id")
        expect(page.locator('#bids tr[data-price="10000"] td').nth(1)).to_have_text("10")
        expect(page.locator("#reserved-cash")).to_have_text("1,000.00")
        shot("3-order-resting")
        order(bob, "SELL", 10, 10_000)
        expect(page.locator(f'#open-orders tr[data-order-id="{buy_id}"]')).to_have_count(0)
        expect(page.locator("#ticket-msg")).to_contain_text("Filled: buy 10 ACME at 100.00")
        holding = page.locator('#holdings tr[data-symbol="ACME"] td')
        expect(holding.nth(1)).to_have_text("10")
        expect(holding.nth(3)).to_have_text("100.00")   # average cost
        expect(page.locator("#cash")).to_have_text("9,000.00")
        expect(page.locator("#reserved-cash")).to_have_text("0.00")
        expect(page.locator("#tape tr").first).to_contain_text("100.00")
        shot("4-filled")

        # another order, cancelled from the page
        _ticket(page, "BUY", "3", "95.00")
        row = page.locator("#open-orders tr", has_text="95.00")
        expect(row).to_contain_text("accepted")
        cancel_id = row.get_attribute("data-order-id")
        row.get_by_role("button", name="Cancel").click()
        expect(page.locator(f'#open-orders tr[data-order-id="{cancel_id}"]')).to_have_count(0)
        expect(page.locator("#activity")).to_contain_text("Cancelled: buy 3 ACME at 95.00")
        wait_for(lambda: p.scalar("SELECT status FROM orders WHERE order_id = :o",
                                  o=cancel_id) == "CANCELLED", TIMEOUT, "the cancel settled")
        assert p.scalar("SELECT status FROM orders WHERE order_id = :o", o=buy_id) == "FILLED"

        # the gate's refusal arrives later, on the private feed: $100,000 > $9,000
        _ticket(page, "BUY", "1000", "100.00")
        expect(page.locator("#ticket-msg")).to_contain_text("Not enough cash")
        shot("5-rejected")

        # post only at carol's offer would take it: the matcher rejects it, and releases
        page.check("#post-only")
        _ticket(page, "BUY", "1", "101.00")
        expect(page.locator("#ticket-msg")).to_contain_text("would have traded at once")
        expect(page.locator("#reserved-cash")).to_have_text("0.00")
        page.uncheck("#post-only")

        # two resting buys, both cancelled with one click
        _ticket(page, "BUY", "2", "90.00")
        _ticket(page, "BUY", "2", "91.00")
        expect(page.locator("#open-orders tr", has_text="91.00")).to_contain_text("accepted")
        expect(page.locator("#open-orders tr", has_text="90.00")).to_contain_text("accepted")
        page.click("#cancel-all")
        expect(page.locator("#open-orders tr[data-order-id]")).to_have_count(0)
        expect(page.locator("#reserved-cash")).to_have_text("0.00")

        # a trade 20% above the reference trips the circuit breaker: the page says so
        r = httpx.delete(f"{api.url}/v1/orders/{carol_offer}", timeout=30,
                         headers={"Authorization": f"Bearer {carol}"})
        assert r.status_code == 202, r.text
        expect(page.locator('#asks tr[data-price="10100"]')).to_have_count(0)
        order(carol, "SELL", 1, 12_000)
        expect(page.locator('#asks tr[data-price="12000"]')).to_have_count(1)
        _ticket(page, "BUY", "1", "120.00")
        expect(page.locator("#halt-banner")).to_be_visible()
        expect(page.locator("#halt-banner")).to_contain_text("TRADING HALTED IN ACME")
        expect(page.locator("#halt-badge")).to_be_visible()
        expect(page.locator("#ticket-msg")).to_contain_text("circuit breaker halted trading")
        shot("6-halted")
        # the other symbol is not halted
        page.select_option("#symbol", "BOLT")
        expect(page.locator("#halt-banner")).to_be_hidden()
        expect(page.locator("#spread")).to_have_text("empty book")
        assert errors == [], errors
    except BaseException:
        shot("failure")
        raise
    finally:
        page.close()
    p.assert_reconciled()


def _ticket(page, side: str, quantity: str, price: str) -> None:
    page.click(f"#ticket .sides label.{side.lower()}")
    page.select_option("#order-type", "LIMIT")
    page.fill("#quantity", quantity)
    page.fill("#price", price)
    page.click("#place")


def _shooter(page, folder):
    def shot(name: str) -> None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    return shot
