"""Rate limits: token buckets per token and per client address (pure ASGI middleware).

Order entry (POST and DELETE under /v1/orders) and queries (every other /v1 request, a
WebSocket connection included) draw on separate buckets of the caller's token, as
exchanges count them; every /v1 request also draws on its address's bucket, so no set
of tokens lets one address past it. A request refused gets 429 with Retry-After (whole
seconds until the bucket that refused holds a token again). /health, /metrics,
/openapi.json and the trading screen's files are not limited.

Limits are `RATE/BURST` per second, from the environment (0 turns one off):
MATCHSTREAM_RATE_ORDERS (default 50/100 per token), MATCHSTREAM_RATE_QUERIES (20/40 per
token), MATCHSTREAM_RATE_ADDRESS (200/400 per address).
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from dataclasses import dataclass

from starlette.responses import JSONResponse

from api.auth import bearer

DEFAULTS = {"MATCHSTREAM_RATE_ORDERS": "50/100", "MATCHSTREAM_RATE_QUERIES": "20/40",
            "MATCHSTREAM_RATE_ADDRESS": "200/400"}
IDLE_S = 300.0  # a bucket untouched this long is full again: forgotten
SWEEP_EVERY = 10_000  # requests


@dataclass(frozen=True, slots=True)
class Limit:
    rate: float  # tokens a second
    burst: float

    @classmethod
    def parse(cls, text: str) -> Limit | None:
        rate, _, burst = text.partition("/")
        limit = cls(float(rate), float(burst or rate))
        return limit if limit.rate > 0 and limit.burst >= 1 else None


class Bucket:
    __slots__ = ("level", "at")

    def __init__(self, limit: Limit, now: float) -> None:
        self.level, self.at = limit.burst, now

    def refill(self, limit: Limit, now: float) -> None:
        self.level = min(limit.burst, self.level + (now - self.at) * limit.rate)
        self.at = now

    def wait_s(self, limit: Limit) -> float:
        """0 if a token can be taken now, else the seconds until one can."""
        return 0.0 if self.level >= 1 else (1 - self.level) / limit.rate


class RateLimiter:
    def __init__(self, limits: dict[str, Limit | None]) -> None:
        self.limits = limits
        self.buckets: dict[tuple[str, str], Bucket] = {}
        self._seen = 0

    @classmethod
    def from_env(cls) -> RateLimiter:
        names = {"orders": "MATCHSTREAM_RATE_ORDERS", "queries": "MATCHSTREAM_RATE_QUERIES",
                 "address": "MATCHSTREAM_RATE_ADDRESS"}
        return cls({kind: Limit.parse(os.environ.get(env) or DEFAULTS[env])
                    for kind, env in names.items()})

    def admit(self, keys: list[tuple[str, str]], now: float) -> float:
        """Take a token from each (kind, who) bucket, or none: 0, or the seconds to wait."""
        self._seen += 1
        if self._seen % SWEEP_EVERY == 0:
            self.buckets = {k: b for k, b in self.buckets.items() if now - b.at < IDLE_S}
        chosen = []
        for kind, who in keys:
            limit = self.limits.get(kind)
            if limit is None:
                continue
            bucket = self.buckets.get((kind, who))
            if bucket is None:
                bucket = self.buckets[(kind, who)] = Bucket(limit, now)
            bucket.refill(limit, now)
            chosen.append((bucket, limit))
        wait = max((b.wait_s(limit) for b, limit in chosen), default=0.0)
        if wait == 0:
            for bucket, _ in chosen:
                bucket.level -= 1
        return wait


def _kind(scope) -> str | None:
    path = scope.get("path", "")
    if not path.startswith("/v1/"):
        return None
    if scope["type"] == "http" and scope["method"] in ("POST", "DELETE") and \
            path.startswith("/v1/orders"):
        return "orders"
    return "queries"


def _token_key(scope) -> str | None:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1")
               for k, v in scope.get("headers", ())}
    token = bearer(headers)
    if token is None and scope["type"] == "websocket":
        query = scope.get("query_string", b"").decode("latin-1")
        token = next((p[6:] for p in query.split("&") if p.startswith("token=")), None)
    return hashlib.blake2b(token.encode(), digest_size=12).hexdigest() if token else None


class RateLimitMiddleware:
    def __init__(self, app) -> None:
        self.app = app
        self.limiter = RateLimiter.from_env()

    async def __call__(self, scope, receive, send):
        kind = _kind(scope) if scope["type"] in ("http", "websocket") else None
        if kind is None:
            return await self.app(scope, receive, send)
        client = scope.get("client")
        keys = [("address", client[0] if client else "")]
        token = _token_key(scope)
        if token is not None:
            keys.append((kind, token))
        wait = self.limiter.admit(keys, time.monotonic())
        if wait == 0:
            return await self.app(scope, receive, send)
        retry_after = str(max(1, math.ceil(wait)))
        if scope["type"] == "websocket":  # refused before the handshake completes
            await send({"type": "websocket.close", "code": 1008, "reason": "rate limited"})
            return None
        response = JSONResponse(
            {"error": {"code": "RATE_LIMITED",
                       "message": f"too many requests; retry in {retry_after} s"}},
            status_code=429, headers={"Retry-After": retry_after})
        return await response(scope, receive, send)
