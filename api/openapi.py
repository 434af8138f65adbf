"""/openapi.json, generated from the endpoints' docstrings (YAML after '---')."""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.schemas import SchemaGenerator

generator = SchemaGenerator({
    "openapi": "3.0.3",
    "info": {"title": "matchstream", "version": "1",
             "description": "Orders, portfolio, trades and market data. Money is integer "
                            "cents, with decimal strings beside it; never floats. Errors are "
                            "{\"error\": {\"code\", \"message\"}}."},
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    "security": [{"bearer": []}],
})


async def openapi(request):
    """The OpenAPI document of this API.
    ---
    summary: OpenAPI document
    security: []
    responses:
      200: {description: the document}
    """
    return JSONResponse(generator.get_schema(routes=request.app.routes))
