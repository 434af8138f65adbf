"""/v1/ws: the WebSocket market data feed.

Client -> server (JSON text):
  {"action": "auth", "token": "..."}   (or on connect: the subprotocols "matchstream" and
                                        the token, or ?token=...)
  {"action": "subscribe", "channels": ["ticker:AAPL", "trades:AAPL", "book:AAPL",
                                        "candles:AAPL:1m", "halts:AAPL", "orders"]}
  {"action": "unsubscribe", "channels": [...]}
  {"action": "ping"}
Server -> client:
  {"type": "subscribed", "channel": C} then {"type": "snapshot", "channel": C, "data": ...}
  {"type": "update", "channel": C, "data": ...}
  {"type": "unsubscribed", "channel": C}, {"type": "authenticated", "account": A},
  {"type": "pong"}
  {"type": "error", "code": "unknown_channel" | "unknown_symbol" | "unauthorized" |
                            "bad_request", "message": ..., "channel": C (if any)}
A client too slow to keep up with its bounded queue is closed with code 4008.

Limits (an error message first, then the close): a message over MAX_MESSAGE_CHARS closes
with 1009; more than MAX_CHANNELS channels on a connection (MAX_CHANNELS_ANONYMOUS before
it authenticates), or more than MAX_ANONYMOUS_PER_ADDRESS unauthenticated connections
from one address, close with 1008. Subscribing yields to the event loop every
YIELD_EVERY channels, so one large message cannot hold the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from starlette.websockets import WebSocket, WebSocketDisconnect

from api.auth import principal_for
from api.feed import CANDLE_INTERVALS, SLOW_CLOSE_CODE, Subscriber

log = logging.getLogger(__name__)

PUBLIC_KINDS = ("ticker", "trades", "book", "halts")
MAX_MESSAGE_CHARS = 64 * 1024
MAX_CHANNELS = 200
MAX_CHANNELS_ANONYMOUS = 50
MAX_ANONYMOUS_PER_ADDRESS = 20
YIELD_EVERY = 16
TOO_BIG, POLICY_VIOLATION = 1009, 1008


class Violation(Exception):
    """A limit broken: the connection is told why, then closed with close_code."""

    def __init__(self, close_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.close_code = close_code
        self.code = code


class ChannelError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


async def parse_channel(market, channel: str, account: str | None) -> tuple[str, str]:
    """(subscription key, channel name) or ChannelError."""
    if not isinstance(channel, str):
        raise ChannelError("unknown_channel", "a channel is a string")
    if channel == "orders":
        if account is None:
            raise ChannelError("unauthorized", "the orders channel needs an account token "
                                               "(?token=... or {\"action\": \"auth\"})")
        return "orders:" + account, "orders"
    parts = channel.split(":")
    kind = parts[0]
    if kind in PUBLIC_KINDS and len(parts) == 2 and parts[1]:
        symbol = parts[1]
    elif kind == "candles" and len(parts) == 3 and parts[1]:
        symbol = parts[1]
        if parts[2] not in CANDLE_INTERVALS:
            raise ChannelError("unknown_channel", f"unknown candle interval {parts[2]!r}; "
                               f"one of {', '.join(CANDLE_INTERVALS)}")
    else:
        raise ChannelError("unknown_channel", f"unknown channel {channel!r}; channels are "
                           "ticker:SYM, trades:SYM, book:SYM, halts:SYM, "
                           "candles:SYM:INTERVAL, orders")
    if not await market.known_symbol(symbol):
        raise ChannelError("unknown_symbol", f"unknown symbol {symbol!r}")
    return channel, channel


SUBPROTOCOL = "matchstream"


def _offered_token(websocket: WebSocket) -> tuple[str | None, str | None]:
    """(subprotocol to accept, token) from Sec-WebSocket-Protocol: "matchstream, TOKEN"
    keeps the token out of the URL, and so out of every log."""
    offered = websocket.scope.get("subprotocols") or []
    if SUBPROTOCOL not in offered:
        return None, None
    return SUBPROTOCOL, next((p for p in offered if p != SUBPROTOCOL), None)


async def endpoint(websocket: WebSocket) -> None:
    market = websocket.app.state.market
    hub = market.hub
    subprotocol, offered_token = _offered_token(websocket)
    await websocket.accept(subprotocol=subprotocol)
    closing: dict = {}
    address = websocket.client.host if websocket.client else ""
    anonymous = hub.anonymous  # address -> unauthenticated connections open

    def on_overflow(sub: Subscriber) -> None:
        hub.remove(sub)
        hub.dropped_subscribers += 1
        closing["slow"] = True
        writer.cancel()

    sub = Subscriber(on_overflow)

    async def write() -> None:
        queue = sub.queue
        while True:
            await websocket.send_text(await queue.get())

    writer = asyncio.create_task(write())

    async def reply(message: dict) -> None:
        sub.offer(json.dumps(message))

    async def authenticate(token) -> None:
        principal = await principal_for(websocket.app.state.db, token) if token else None
        if principal is None or principal.account_id is None:
            await reply({"type": "error", "code": "unauthorized",
                         "message": "invalid token, or a token without an account"})
            return
        if sub.account is not None and sub.account != principal.account_id:
            hub.unsubscribe(sub, "orders:" + sub.account)
        if sub.account is None:
            _leave(anonymous, address)
        sub.account = principal.account_id
        await reply({"type": "authenticated", "account": sub.account})

    anonymous[address] = anonymous.get(address, 0) + 1
    token = offered_token or websocket.query_params.get("token")
    if token:  # before reading: a subscribe to orders right after connecting needs it
        await authenticate(token)
    if sub.account is None and anonymous[address] > MAX_ANONYMOUS_PER_ADDRESS:
        reader = asyncio.create_task(_refuse(Violation(
            POLICY_VIOLATION, "too_many_connections",
            f"at most {MAX_ANONYMOUS_PER_ADDRESS} unauthenticated connections per address")))
    else:
        reader = asyncio.create_task(_read(websocket, market, hub, sub, reply, authenticate))
    try:
        await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        hub.remove(sub)
        if sub.account is None:
            _leave(anonymous, address)
        violation = None
        for task in (reader, writer):
            if task.done() and not task.cancelled():
                exc = task.exception()  # a socket that went away: retrieved, not logged
                violation = exc if isinstance(exc, Violation) else violation
            task.cancel()
        code, reason = (SLOW_CLOSE_CODE, "slow consumer") if closing.get("slow") else (1000, "")
        if violation is not None:
            code, reason = violation.close_code, violation.code
            with contextlib.suppress(RuntimeError, OSError, TimeoutError, WebSocketDisconnect):
                await asyncio.wait_for(_drain(websocket, sub, {
                    "type": "error", "code": violation.code, "message": str(violation)}), 2)
        # the peer may be gone already, or (a slow one) not reading: never wait long
        with contextlib.suppress(RuntimeError, OSError, TimeoutError, WebSocketDisconnect):
            await asyncio.wait_for(websocket.close(code, reason), 2)


def _leave(anonymous: dict[str, int], address: str) -> None:
    left = anonymous.get(address, 0) - 1
    if left > 0:
        anonymous[address] = left
    else:
        anonymous.pop(address, None)


async def _refuse(violation: Violation) -> None:
    raise violation


async def _drain(websocket, sub, last: dict) -> None:
    """What is queued for the client, then `last` (before a close that says why)."""
    while not sub.queue.empty():
        await websocket.send_text(sub.queue.get_nowait())
    await websocket.send_text(json.dumps(last))


async def _read(websocket, market, hub, sub, reply, authenticate) -> None:
    while True:
        try:
            raw = await websocket.receive_text()
        except (WebSocketDisconnect, RuntimeError, KeyError):
            return
        if len(raw) > MAX_MESSAGE_CHARS:
            raise Violation(TOO_BIG, "too_big",
                            f"a message may be at most {MAX_MESSAGE_CHARS} characters")
        try:
            msg = json.loads(raw)
            action = msg["action"]
        except (ValueError, TypeError, KeyError):
            await reply({"type": "error", "code": "bad_request",
                         "message": "expected JSON with an \"action\""})
            continue
        if action == "ping":
            await reply({"type": "pong"})
        elif action == "auth":
            await authenticate(msg.get("token"))
        elif action in ("subscribe", "unsubscribe"):
            channels = msg.get("channels")
            if isinstance(channels, str):
                channels = [channels]
            if not isinstance(channels, list) or not channels:
                await reply({"type": "error", "code": "bad_request",
                             "message": "\"channels\" must be a non-empty list"})
                continue
            limit = MAX_CHANNELS if sub.account is not None else MAX_CHANNELS_ANONYMOUS
            if len(channels) > limit or (action == "subscribe"
                                         and len(sub.channels) + len(channels) > limit):
                raise Violation(POLICY_VIOLATION, "too_many_channels",
                                f"at most {limit} channels per connection"
                                + ("" if sub.account else " before it authenticates"))
            for i, channel in enumerate(channels):
                if i % YIELD_EVERY == YIELD_EVERY - 1:
                    await asyncio.sleep(0)  # let other connections and the feed run
                try:
                    key, name = await parse_channel(market, channel, sub.account)
                except ChannelError as exc:
                    await reply({"type": "error", "code": exc.code, "message": str(exc),
                                 "channel": channel})
                    continue
                if action == "subscribe":
                    # snapshot and subscription in one step of the loop: no update is
                    # lost or sent before the snapshot
                    hub.subscribe(sub, key)
                    await reply({"type": "subscribed", "channel": name})
                    await reply({"type": "snapshot", "channel": name,
                                 "data": hub.snapshot(name, sub.account)})
                else:
                    hub.unsubscribe(sub, key)
                    await reply({"type": "unsubscribed", "channel": name})
        else:
            await reply({"type": "error", "code": "bad_request",
                         "message": f"unknown action {action!r}; use subscribe, "
                                    "unsubscribe, auth or ping"})
