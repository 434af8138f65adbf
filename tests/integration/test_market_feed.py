"""The market data feed end to end: a real uvicorn, real sockets, the real pipeline."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import time

import websockets

from api.auth import issue_token
from schemas.records import NewOrderRequest, Trade
from tests.api_server import TIMEOUT, ApiServer
from tests.platform import wait_for


def order(order_id, account, symbol, side, quantity, price):
    return NewOrderRequest(order_id=order_id, account=account, symbol=symbol, side=side,
                           quantity=quantity, price=price, order_type="LIMIT", tif="GTC")


class Client:
    """A WebSocket client that keeps every message it receives, by type and channel."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.messages: list[dict] = []

    @classmethod
    async def connect(cls, url: str, **kwargs) -> Client:
        return cls(await websockets.connect(url, open_timeout=TIMEOUT, **kwargs))

    async def send(self, **msg) -> None:
        await self.ws.send(json.dumps(msg))

    async def until(self, predicate, what: str, timeout: float = TIMEOUT) -> dict:
        """The first message (old or new) matching predicate."""
        for m in self.messages:
            if predicate(m):
                return m
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"timed out waiting for {what}; got {self.messages[-10:]}"
            try:
                m = json.loads(await asyncio.wait_for(self.ws.recv(), left))
            except TimeoutError:
                continue
            self.messages.append(m)
            if predicate(m):
                return m


def is_(type_, channel=None, **data):
    def check(m):
        if m.get("type") != type_ or (channel is not None and m.get("channel") != channel):
            return False
        d = m.get("data")
        return all(isinstance(d, dict) and d.get(k) == v for k, v in data.items())
    return check


def test_websocket_protocol(platform):
    asyncio.run(_protocol(platform))


async def _protocol(p):
    p.symbol("ACME", reference_price=10_000)
    p.account("alice", ACME=100)
    p.account("bob", cash=10_000_000)
    bob_token = issue_token(p.db, "bob")
    alice_token = issue_token(p.db, "alice")
    worker = p.start_worker()
    api = ApiServer(p)
    try:
        bob = await Client.connect(f"{api.ws_url}?token={bob_token}")
        await bob.until(lambda m: m.get("type") == "authenticated", "bob authenticated")
        await bob.send(action="subscribe", channels=[
            "ticker:ACME", "trades:ACME", "book:ACME", "candles:ACME:1m", "orders",
            "nope:ACME", "ticker:NOPE", "candles:ACME:7m"])
        for channel in ("ticker:ACME", "trades:ACME", "book:ACME", "candles:ACME:1m",
                        "orders"):
            await bob.until(is_("subscribed", channel), f"{channel} subscribed")
            await bob.until(is_("snapshot", channel), f"{channel} snapshot")
        errors = {}
        for channel in ("nope:ACME", "ticker:NOPE", "candles:ACME:7m"):
            m = await bob.until(lambda m, c=channel: m.get("type") == "error"
                                and m.get("channel") == c, f"error for {channel}")
            errors[channel] = m["code"]
        assert errors == {"nope:ACME": "unknown_channel", "ticker:NOPE": "unknown_symbol",
                          "candles:ACME:7m": "unknown_channel"}
        await bob.send(action="dance")
        await bob.until(lambda m: m.get("code") == "bad_request", "bad request")

        # the private channel needs an account; auth by message works too
        alice = await Client.connect(api.ws_url)
        await alice.send(action="subscribe", channels=["orders"])
        await alice.until(lambda m: m.get("code") == "unauthorized", "unauthorized")
        await alice.send(action="auth", token=alice_token)
        await alice.until(lambda m: m.get("type") == "authenticated", "alice authenticated")
        await alice.send(action="subscribe", channels=["orders"])
        await alice.until(is_("snapshot", "orders"), "alice's orders snapshot")

        p.send("order-requests", "alice", order("a1", "alice", "ACME", "SELL", 10, 10_000))
        p.send("order-requests", "alice", order("a2", "alice", "ACME", "SELL", 5, 10_200))
        p.flush()
        await alice.until(is_("update", "orders", order_id="a2", status="ACCEPTED"),
                          "a2 accepted")
        await alice.until(is_("update", "orders", order_id="a1", status="ACCEPTED"),
                          "a1 accepted")
        await bob.until(is_("update", "book:ACME", side="SELL", price=10_200, quantity=5),
                        "the 102.00 level")
        p.send("order-requests", "bob", order("b1", "bob", "ACME", "BUY", 4, 10_000))
        p.flush()
        await bob.until(is_("update", "trades:ACME", price=10_000, quantity=4), "the trade")
        await bob.until(is_("update", "book:ACME", side="SELL", price=10_000, quantity=6),
                        "the level after the trade")
        await bob.until(is_("update", "ticker:ACME", last=10_000, ask=10_000, ask_size=6),
                        "the ticker")
        await bob.until(is_("update", "candles:ACME:1m", volume=4, trades=1, open=10_000),
                        "the minute candle")
        await bob.until(is_("update", "orders", order_id="b1", status="FILLED"),
                        "bob's fill")
        await alice.until(is_("update", "orders", order_id="a1", status="PARTIALLY_FILLED"),
                          "alice's partial fill")
        # private: nobody sees the other's orders
        assert all(m["data"]["account"] == "bob" for m in bob.messages
                   if m.get("type") == "update" and m["channel"] == "orders")
        assert all(m["data"]["account"] == "alice" for m in alice.messages
                   if m.get("type") == "update" and m["channel"] == "orders")

        # a late subscriber gets the current state as its snapshot
        carol = await Client.connect(api.ws_url)
        await carol.send(action="subscribe", channels=["book:ACME", "ticker:ACME",
                                                       "trades:ACME"])
        book = await carol.until(is_("snapshot", "book:ACME"), "book snapshot")
        assert book["data"]["asks"] == [[10_000, 6, 1], [10_200, 5, 1]]
        assert book["data"]["bids"] == []
        ticker = await carol.until(is_("snapshot", "ticker:ACME"), "ticker snapshot")
        assert (ticker["data"]["ask"], ticker["data"]["last"], ticker["data"]["halted"]) == (
            10_000, 10_000, False)
        trades = await carol.until(is_("snapshot", "trades:ACME"), "trades snapshot")
        assert [(t["price"], t["quantity"]) for t in trades["data"]] == [(10_000, 4)]
        await carol.send(action="unsubscribe", channels=["trades:ACME"])
        await carol.until(is_("unsubscribed", "trades:ACME"), "unsubscribed")

        # REST from the same in-memory state
        quote = api.get("/v1/symbols/ACME/quote").json()
        assert (quote["bid"], quote["ask"], quote["ask_size"], quote["last"],
                quote["halted"]) == (None, 10_000, 6, 10_000, False)
        depth = api.get("/v1/symbols/ACME/book?depth=1").json()
        assert depth["asks"] == [[10_000, 6, 1]] and depth["bids"] == []
        assert api.get("/v1/symbols/ACME/status").json()["halted"] is False
        assert api.get("/v1/symbols/NOPE/quote").status_code == 404
        for c in (bob, alice, carol):
            await c.ws.close()
    finally:
        api.close()
        p.kill_worker(worker)


class RawSlowClient:
    """A WebSocket client on a plain socket with a tiny receive buffer that never reads
    after subscribing (a library client would keep buffering in memory)."""

    def __init__(self, port: int, channels: list[str]) -> None:
        sock = self.sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(TIMEOUT)
        sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall((f"GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                      ).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101"), head
        payload = json.dumps({"action": "subscribe", "channels": channels}).encode()
        mask = os.urandom(4)
        assert len(payload) < 126
        sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask
                     + bytes(c ^ mask[i % 4] for i, c in enumerate(payload)))

    def drain(self) -> int:
        """Bytes read until the server closes the connection."""
        total = 0
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                self.sock.close()
                return total
            total += len(chunk)


def test_slow_client_is_dropped_without_delaying_a_fast_one(platform):
    asyncio.run(_slow(platform))


async def _slow(p):
    p.symbol("FAST", reference_price=10_000)
    api = ApiServer(p, MATCHSTREAM_WS_QUEUE="500")
    try:
        slow = RawSlowClient(api.port, ["trades:FAST"])
        fast = await Client.connect(api.ws_url, max_size=None)
        await fast.send(action="subscribe", channels=["trades:FAST"])
        await fast.until(is_("snapshot", "trades:FAST"), "fast client's snapshot")
        # the slow client now stops reading; 24 MB of trades go by (more than its queue
        # and socket buffers), straight into the trades topic, while the fast one reads
        n = 6000
        pad = "x" * 4000  # in a field of the public tape

        def produce():
            for seq in range(1, n + 1):
                rec = Trade(trade_id=f"FAST-{seq}-{pad}", symbol="FAST", seq=seq, price=10_000,
                            quantity=1, buy_order_id="b", sell_order_id="s", buyer="b",
                            seller="s", maker_order_id="s", aggressor="BUY", ts=seq)
                p.send("trades", "FAST", rec)
                if seq % 100 == 0:
                    p.producer.poll(0)
                    time.sleep(0.005)
            p.flush()

        producing = asyncio.create_task(asyncio.to_thread(produce))
        got = 0
        deadline = time.monotonic() + 300
        while got < n:
            assert time.monotonic() < deadline, f"fast client got only {got} of {n}"
            m = json.loads(await asyncio.wait_for(fast.ws.recv(), TIMEOUT))
            if m.get("type") == "update":
                got += 1
                assert m["data"]["seq"] == got  # every trade, in order
        await producing
        stats = api.get("/v1/market/stats").json()
        assert stats["dropped_slow_subscribers"] == 1, stats
        # the slow client finds what was buffered for it, then the end of the connection
        received = await asyncio.to_thread(slow.drain)
        assert received < n * 4000
        await fast.ws.close()
    finally:
        api.close()


def test_halt_and_automatic_resume(platform):
    asyncio.run(_halt(platform))


async def _halt(p):
    halt_ms = 15_000
    p.symbol("JUMP", reference_price=10_000)
    with p.db.begin() as conn:
        from sqlalchemy import text
        conn.execute(text("UPDATE symbols SET halt_ms = :h WHERE symbol = 'JUMP'"),
                     {"h": halt_ms})
    p.account("alice", JUMP=100)
    p.account("bob", cash=10_000_000)
    bob_token = issue_token(p.db, "bob")
    worker = p.start_worker()
    api = ApiServer(p)
    halts = p.consumer("halts")
    try:
        bob = await Client.connect(f"{api.ws_url}?token={bob_token}")
        await bob.send(action="subscribe", channels=["ticker:JUMP", "halts:JUMP", "orders"])
        await bob.until(is_("snapshot", "halts:JUMP", halted=False), "status snapshot")

        # 120.00 is 20% above the reference 100.00: the trade would breach the 10% band
        p.send("order-requests", "alice", order("a1", "alice", "JUMP", "SELL", 10, 12_000))
        p.flush()
        await bob.until(is_("update", "ticker:JUMP", ask=12_000), "the 120.00 offer")
        p.send("order-requests", "bob", order("b1", "bob", "JUMP", "BUY", 5, 12_000))
        p.flush()
        halt = (await bob.until(is_("update", "halts:JUMP", halted=True), "the halt"))["data"]
        until = halt["until_ts"]
        assert (halt["reference_price"], halt["attempted_price"]) == (10_000, 12_000)
        assert until - halt["ts"] == halt_ms
        await bob.until(is_("update", "orders", order_id="b1", status="CANCELLED",
                            reason="HALTED"), "b1 cancelled HALTED")
        await bob.until(is_("update", "ticker:JUMP", halted=True, halted_until=until),
                        "the halt in the ticker")
        # on the topic too
        msg = wait_for(lambda: halts.poll(0.5), TIMEOUT, "a record on halts")
        assert json.loads(msg.value())["halted"] is True and msg.key() == b"JUMP"
        # REST, while the halt lasts (only checked if this machine got there in time)
        before = int(time.time() * 1000)
        status = api.get("/v1/symbols/JUMP/status").json()
        if int(time.time() * 1000) < until:
            assert status == {"symbol": "JUMP", "halted": True, "halted_until": until,
                              "reference_price": 10_000, "attempted_price": 12_000}
        # an order during the halt is rejected HALTED (by the gate or the matcher)
        p.send("order-requests", "bob", order("b2", "bob", "JUMP", "BUY", 1, 10_000))
        p.flush()
        rejected = await bob.until(is_("update", "orders", order_id="b2"), "b2's outcome")
        if before < until - 2_000:
            assert (rejected["data"]["status"], rejected["data"]["reason"]) == (
                "REJECTED", "HALTED")
        assert p.scalar("SELECT count(*) FROM trades") == 0

        # after the halt, trading resumes by itself
        while int(time.time() * 1000) < until + 500:
            await asyncio.sleep(0.5)
        assert api.get("/v1/symbols/JUMP/status").json()["halted"] is False
        p.send("order-requests", "alice", order("a2", "alice", "JUMP", "SELL", 5, 10_100))
        p.flush()
        await bob.until(is_("update", "halts:JUMP", halted=False), "the resume on halts")
        await bob.until(is_("update", "ticker:JUMP", ask=10_100), "the 101.00 offer")
        p.send("order-requests", "bob", order("b3", "bob", "JUMP", "BUY", 5, 10_100))
        p.flush()
        await bob.until(is_("update", "orders", order_id="b3", status="FILLED"), "b3 filled")
        await bob.until(is_("update", "ticker:JUMP", last=10_100, halted=False),
                        "the trade in the ticker")
        wait_for(lambda: p.scalar("SELECT count(*) FROM trades") == 1, TIMEOUT,
                 "the trade settled", [worker.log_path])
        await bob.ws.close()
    finally:
        halts.close()
        api.close()
        p.kill_worker(worker)


def test_websocket_limits(platform):
    """Each limit says why, then closes with the code that applies; a message of 200,000
    channels is refused at once instead of holding the API's loop."""
    asyncio.run(_limits(platform))


async def _limits(p):
    from api import ws as limits

    p.symbol("ACME", reference_price=10_000)
    symbols = [f"S{i}" for i in range(30)]
    for symbol in symbols:
        p.symbol(symbol, reference_price=10_000)
    p.account("bob", cash=1_000)
    token = issue_token(p.db, "bob")
    api = ApiServer(p)
    try:
        async def refused(client, what: str) -> tuple[dict, int]:
            error = await client.until(lambda m: m.get("type") == "error", what)
            with contextlib.suppress(websockets.ConnectionClosed):
                await asyncio.wait_for(client.ws.recv(), TIMEOUT)
            return error, client.ws.close_code

        big = await Client.connect(api.ws_url)
        await big.ws.send(json.dumps({"action": "ping", "pad": "x" * (65 * 1024)}))
        error, code = await refused(big, "a too-big message refused")
        assert (error["code"], code) == ("too_big", 1009)

        huge = await Client.connect(api.ws_url)  # 200,000 channels: ~2.5 MB
        await huge.send(action="subscribe", channels=[f"ticker:S{i}" for i in range(200_000)])
        with contextlib.suppress(websockets.ConnectionClosed):
            await asyncio.wait_for(huge.ws.recv(), TIMEOUT)
        assert huge.ws.close_code == 1009  # the server's frame limit (1 MiB)

        flood = await Client.connect(f"{api.ws_url}?token={token}")
        await flood.send(action="subscribe", channels=[f"ticker:S{i}" for i in range(4_000)])
        error, code = await refused(flood, "4,000 channels refused")
        assert (error["code"], code) == ("too_many_channels", 1008)

        anonymous = await Client.connect(api.ws_url)
        await anonymous.send(action="subscribe", channels=["ticker:ACME"] * 51)
        error, code = await refused(anonymous, "51 channels before authenticating")
        assert (error["code"], code) == ("too_many_channels", 1008)

        # the limit counts a connection's channels, so many small messages reach it too
        authed = await Client.connect(f"{api.ws_url}?token={token}")
        channels = [c for s in symbols for c in (
            f"ticker:{s}", f"trades:{s}", f"book:{s}", f"halts:{s}", f"candles:{s}:1m",
            f"candles:{s}:5m", f"candles:{s}:1h", f"candles:{s}:1d")]  # 240
        await authed.send(action="subscribe", channels=channels[:40])
        await authed.until(is_("snapshot", channels[39]), "within the limit")
        for start in range(40, len(channels), 40):
            await authed.send(action="subscribe", channels=channels[start:start + 40])
        error, code = await refused(authed, "the connection's channels over the limit")
        subscribed = {m["channel"] for m in authed.messages if m.get("type") == "subscribed"}
        assert len(subscribed) == limits.MAX_CHANNELS
        assert (error["code"], code) == ("too_many_channels", 1008)

        kept = [await Client.connect(api.ws_url)
                for _ in range(limits.MAX_ANONYMOUS_PER_ADDRESS)]
        one_more = await Client.connect(api.ws_url)
        error, code = await refused(one_more, "an unauthenticated connection too many")
        assert (error["code"], code) == ("too_many_connections", 1008)
        await kept[0].send(action="ping")
        await kept[0].until(lambda m: m.get("type") == "pong", "the others still served")
        for client in kept:
            await client.ws.close()
    finally:
        api.close()


def test_no_token_in_the_api_log(platform):
    asyncio.run(_no_token_logged(platform))


async def _no_token_logged(p):
    p.symbol("ACME", reference_price=10_000)
    p.account("bob", cash=1_000)
    token = issue_token(p.db, "bob")
    api = ApiServer(p, log_level="info")
    try:
        bob = await Client.connect(f"{api.ws_url}?token={token}")
        await bob.until(lambda m: m.get("type") == "authenticated", "bob authenticated")
        await bob.ws.close()
        assert api.get(f"/v1/market/stats?token={token}").status_code == 200
        wait_for(lambda: "/v1/market/stats" in api.log_path.read_text(), TIMEOUT,
                 "the access log line", [api.log_path])
    finally:
        api.close()
    log = api.log_path.read_text()
    assert "/v1/ws?token=[redacted]" in log and "stats?token=[redacted]" in log
    assert token not in log and token[10:] not in log


def test_a_token_offered_as_a_subprotocol_authenticates(platform):
    asyncio.run(_subprotocol(platform))


async def _subprotocol(p):
    p.symbol("ACME", reference_price=10_000)
    p.account("bob", cash=1_000)
    token = issue_token(p.db, "bob")
    api = ApiServer(p)
    try:
        bob = await Client.connect(api.ws_url, subprotocols=["matchstream", token])
        assert bob.ws.subprotocol == "matchstream"
        await bob.until(lambda m: m.get("type") == "authenticated" and m["account"] == "bob",
                        "bob authenticated")
        await bob.send(action="subscribe", channels=["orders"])
        await bob.until(is_("snapshot", "orders"), "bob's orders")
    finally:
        api.close()
