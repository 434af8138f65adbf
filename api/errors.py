"""One error shape for the whole API: {"error": {"code", "message"}} with a stable code.

Endpoints raise ApiError (or a Reject through `rejected`); Starlette's own HTTP
errors (404 route, 405 method) and anything unexpected go through the same handler.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from engine.enums import Reject, Stage

log = logging.getLogger("matchstream.api")

# the HTTP status of each rejection the core can give, by where it is raised
_REJECT_STATUS = {Stage.DECODE: 400, Stage.VALIDATION: 422, Stage.RISK: 422,
                  Stage.MATCHING: 409, Stage.HALT: 409}
_HTTP_CODES = {400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND",
               405: "METHOD_NOT_ALLOWED", 409: "CONFLICT", 413: "TOO_LARGE",
               415: "UNSUPPORTED_MEDIA_TYPE",
               422: "UNPROCESSABLE", 503: "UNAVAILABLE"}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def rejected(reason: Reject, message: str | None = None) -> ApiError:
    return ApiError(_REJECT_STATUS[reason.stage], reason.value,
                    message or f"order rejected: {reason.value}")


def not_found(what: str) -> ApiError:
    return ApiError(404, "NOT_FOUND", f"{what} not found")


def bad_request(message: str, code: str = "BAD_REQUEST") -> ApiError:
    return ApiError(400, code, message)


def body(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def handle(request, exc: Exception) -> JSONResponse:
    """The one exception handler (registered for Exception and HTTPException)."""
    if isinstance(exc, ApiError):
        return body(exc.status, exc.code, exc.message)
    if isinstance(exc, HTTPException):
        return body(exc.status_code, _HTTP_CODES.get(exc.status_code, "HTTP_ERROR"),
                    str(exc.detail))
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return body(500, "INTERNAL", "internal error")


exception_handlers = {HTTPException: handle, ApiError: handle, Exception: handle}
