"""/metrics in Prometheus text format: orders by outcome, rejections by reason, latency,
and the pipeline's consumer lag (api/lag.py)."""

from __future__ import annotations

import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.responses import Response
from starlette.routing import Match

REGISTRY = CollectorRegistry()
ORDERS = Counter("matchstream_api_orders", "Order requests by outcome "
                 "(accepted, rejected, replayed: an idempotent retry)", ["outcome"],
                 registry=REGISTRY)
REJECTIONS = Counter("matchstream_api_rejections", "Orders the API refused, by reason",
                     ["reason"], registry=REGISTRY)
CANCELS = Counter("matchstream_api_cancels", "Cancel requests produced", registry=REGISTRY)
LATENCY = Histogram("matchstream_api_request_seconds", "Request latency by route and status",
                    ["method", "route", "status"], registry=REGISTRY)


async def metrics(request):
    """Prometheus metrics of this API process and the pipeline's consumer lag.
    ---
    summary: Prometheus metrics (text exposition format)
    security: []
    responses:
      200:
        description: metrics
        content:
          text/plain: {}
    """
    text = generate_latest(REGISTRY)
    lag = getattr(request.app.state, "lag", None)
    if lag is not None:
        await lag.refresh()
        text += generate_latest(lag.registry)
    return Response(text, media_type=CONTENT_TYPE_LATEST)


# label values stay bounded: any other method name (uvicorn accepts any) counts as OTHER,
# and a path is its route template or "unmatched", never the raw path
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class LatencyMiddleware:
    """Pure ASGI middleware: times every HTTP request, labelled by its route template."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = {"code": 500}

        async def send_status(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            LATENCY.labels(method, _route(scope), str(status["code"])).observe(
                time.perf_counter() - start)


def _route(scope) -> str:
    app = scope.get("app")
    for route in getattr(app, "routes", ()):
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return getattr(route, "path", "other")
    return "unmatched"
