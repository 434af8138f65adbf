"""What every endpoint needs: who is calling, its JSON body, query parameters, money, cursors."""

from __future__ import annotations

import base64
import binascii
import re

import msgspec

from api.auth import Principal, bearer, principal_for
from api.errors import ApiError, bad_request
from schemas.money import format_cents
from schemas.records import text_ok

MAX_LIMIT = 500
DEFAULT_LIMIT = 100
INT64 = 2**63 - 1


async def principal(request) -> Principal:
    found = await principal_for(request.app.state.read_db, _token(request))
    if found is None:
        raise ApiError(401, "UNAUTHENTICATED", "a valid 'Authorization: Bearer <token>' is needed")
    return found


async def account_of(request) -> str:
    """The caller's account; an admin token has none and may not trade or query one."""
    who = await principal(request)
    if who.account_id is None:
        raise ApiError(403, "ACCOUNT_TOKEN_REQUIRED", "this endpoint needs an account's token")
    return who.account_id


async def require_admin(request) -> Principal:
    who = await principal(request)
    if not who.is_admin:
        raise ApiError(403, "ADMIN_REQUIRED", "this endpoint needs an admin token")
    return who


def _token(request) -> str | None:
    token = bearer(request.headers)
    # a token is URL-safe base64: anything else cannot match and must not reach the driver
    return token if token and token.isascii() and token.isprintable() else None


MAX_BODY_BYTES = 64 * 1024


async def json_body(request, struct: type):
    raw = await _bounded_body(request)
    try:
        return msgspec.json.decode(raw, type=struct)
    except msgspec.ValidationError as exc:
        raise bad_request(f"invalid request body: {exc}", "MALFORMED") from None
    except msgspec.DecodeError:
        raise bad_request("the request body must be a JSON object", "MALFORMED") from None


async def _bounded_body(request) -> bytes:
    """The body, refused with 413 past MAX_BODY_BYTES: by its Content-Length before
    reading, or while reading one sent in chunks."""
    too_big = ApiError(413, "TOO_LARGE", f"a request body may be at most {MAX_BODY_BYTES} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_big
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


# what a client may choose as an identifier (order id, Idempotency-Key, account id,
# adjustment reference): checked before anything is stored; safe in a URL, a header, a log
CLIENT_ID_CHARS = "A-Za-z0-9._:-"
CLIENT_ID = re.compile(f"[{CLIENT_ID_CHARS}]+")


def client_id_ok(value: str, max_length: int) -> bool:
    """text_ok, in the client identifier charset."""
    return text_ok(value, max_length) and CLIENT_ID.fullmatch(value) is not None


def query_text(request, name: str, max_length: int = 64) -> str | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    if not text_ok(value, max_length):
        raise bad_request(f"query parameter {name!r} is not valid")
    return value


def query_int(request, name: str, default: int | None = None, lo: int = 0,
              hi: int = INT64) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw) if raw.isascii() and raw.lstrip("-").isdigit() else None
    except ValueError:
        value = None
    if value is None or not lo <= value <= hi:
        raise bad_request(f"query parameter {name!r} must be an integer from {lo} to {hi}")
    return value


def limit(request) -> int:
    return query_int(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)


def money(cents: int) -> dict:
    """Integer cents and the exact decimal string: never a float."""
    return {"cents": cents, "amount": format_cents(cents)}


def encode_cursor(*parts) -> str:
    text = "\x1f".join(str(p) for p in parts)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(request) -> tuple[int, str] | None:
    """A cursor is (ms, id) of the last row of the previous page, opaque to clients."""
    raw = request.query_params.get("cursor")
    if not raw:
        return None
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        ms, ident = text.split("\x1f")
        if not (ms.isascii() and ms.isdigit() and len(ms) <= 18 and text_ok(ident)):
            raise ValueError
        return int(ms), ident
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad_request("invalid cursor", "BAD_CURSOR") from None


def page(items: list[dict], size: int, ms_key: str, id_key: str) -> dict:
    """Rows fetched with limit size+1: the extra one says whether there is a next page."""
    more = len(items) > size
    items = items[:size]
    cursor = encode_cursor(items[-1][ms_key], items[-1][id_key]) if more else None
    return {"items": items, "next_cursor": cursor}
