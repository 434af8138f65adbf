"""Order entry and order queries: POST / DELETE produce to Kafka, GETs read the ledger."""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Annotated
from urllib.parse import quote

import msgspec
from sqlalchemy import and_, or_, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from starlette.responses import JSONResponse

from api import metrics
from api.common import (
    CLIENT_ID_CHARS,
    account_of,
    client_id_ok,
    decode_cursor,
    json_body,
    limit,
    money,
    page,
    query_text,
)
from api.errors import ApiError, bad_request, not_found, rejected
from engine.enums import Reject
from engine.spec import SymbolSpec
from engine.status import OPEN, RECORDED, OrderStatus
from ledger.specs import load_spec
from ledger.tables import idempotency_keys, issued_orders, orders, trades
from risk.rules import check_new_order
from schemas.codec import ORDER_REQUEST, encode
from schemas.records import (
    MAX_SYMBOL_LENGTH,
    CancelAllRequest,
    CancelRequest,
    Int64,
    NewOrderRequest,
    text_ok,
)

# a client's order id: checked before anything is stored, and safe in a URL and a header
ORDER_ID_PATTERN = f"^[{CLIENT_ID_CHARS}]{{1,64}}$"
OrderId = Annotated[str, msgspec.Meta(pattern=ORDER_ID_PATTERN)]


class OrderBody(msgspec.Struct, forbid_unknown_fields=True):
    symbol: str
    side: str
    quantity: Int64
    order_type: str = "LIMIT"
    tif: str = "GTC"
    price: Int64 | None = None  # integer cents; leave out for MARKET
    order_id: OrderId | None = None  # a uuid4 hex is made when left out
    post_only: bool = False  # GTC LIMIT: rest, or be rejected rather than trade on arrival


async def place_order(request):
    """Place an order: validated like the gate does, then produced to order-requests.
    ---
    summary: Place an order (202 once Kafka has it; the gate still checks funds)
    parameters:
      - in: header
        name: Idempotency-Key
        required: false
        schema: {type: string, pattern: "^[A-Za-z0-9._:-]{1,128}$"}
        description: >-
          a retry with the same key and body answers with the same order id (and produces
          the stored request again: the gate places it once)
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [symbol, side, quantity]
            additionalProperties: false
            properties:
              symbol: {type: string}
              side: {type: string, enum: [BUY, SELL]}
              quantity: {type: integer, minimum: 1}
              order_type: {type: string, enum: [LIMIT, MARKET]}
              tif: {type: string, enum: [GTC, IOC, FOK]}
              price: {type: integer, minimum: 1, description: limit price in cents}
              order_id: {type: string, pattern: "^[A-Za-z0-9._:-]{1,64}$"}
              post_only:
                type: boolean
                description: >-
                  a GTC LIMIT order that only adds liquidity: the matcher rejects it
                  (POST_ONLY_WOULD_CROSS) rather than let it trade on arrival
    responses:
      202: {description: the order request is on Kafka; its id}
      400: {description: malformed body or header}
      409: {description: idempotency key reused with another body}
      422: {description: "rejected (UNKNOWN_SYMBOL, BAD_QUANTITY, BAD_PRICE, OFF_TICK, DUPLICATE_ORDER_ID, POST_ONLY_NEEDS_GTC_LIMIT, ...)"}
      503:
        description: >-
          Kafka did not confirm: the outcome is unknown and the message names the order id;
          a retry with the same Idempotency-Key (or that order_id) and body is safe
    """
    account = await account_of(request)
    body = await json_body(request, OrderBody)
    key = request.headers.get("idempotency-key")
    if key is not None and not client_id_ok(key, 128):
        raise bad_request(f"Idempotency-Key must be 1 to 128 of {CLIENT_ID_CHARS}")
    order_id = body.order_id if body.order_id is not None else uuid.uuid4().hex
    req = NewOrderRequest(order_id=order_id, account=account, symbol=body.symbol,
                          side=body.side, quantity=body.quantity, order_type=body.order_type,
                          tif=body.tif, price=body.price, ts=int(time.time() * 1000),
                          post_only=body.post_only)
    reason = check_new_order(req, await _rules(request.app.state.read_db, body.symbol), req.ts)
    if reason is not None:
        metrics.ORDERS.labels("rejected").inc()
        metrics.REJECTIONS.labels(reason.value).inc()
        raise rejected(reason)
    digest = hashlib.sha256(msgspec.json.encode(body)).hexdigest() if key is not None else ""
    # short and committed before Kafka is asked: no transaction waits on the broker, and
    # after a lost acknowledgement the retry finds the key and the id
    async with request.app.state.db.begin() as conn:
        first = await _claim_key(conn, account, key, order_id, digest) if key else None
        if first is not None:  # a retry with the key: the first request's row is committed
            order_id, replayed = first, True
            raw = await _stored_request(conn, account, first)
        else:
            raw = encode(req)
            prior = await _issue(conn, account, req, raw, body.order_id is not None)
            replayed = prior is not None
            raw = prior or raw
        if replayed:
            raw = await _unless_recorded(conn, order_id, raw)
    # a retry produces the stored request again, as the first copy may never have reached
    # Kafka; the gate places an order id once
    if raw is not None:
        await _produce(request.app.state.order_producer, account, order_id, raw)
    metrics.ORDERS.labels("replayed" if replayed else "accepted").inc()
    location = f"/v1/orders/{quote(order_id, safe='')}"  # cannot fail, whatever the id
    return JSONResponse({"order_id": order_id, "status": OrderStatus.PENDING,
                         "replayed": replayed}, status_code=202, headers={"Location": location})


async def cancel_order(request):
    """Ask to cancel one of the caller's orders.
    ---
    summary: Cancel an order (202 once the cancel request is on Kafka)
    parameters:
      - {in: path, name: order_id, required: true, schema: {type: string}}
    responses:
      202: {description: "cancel requested (also for an order the gate has not recorded yet)"}
      404: {description: no such order of this account}
      409: {description: "the order is already filled, cancelled or rejected"}
    """
    account = await account_of(request)
    order_id = request.path_params["order_id"]
    await _check_cancellable(request.app.state.db, account, order_id)
    await request.app.state.order_producer.send(
        account, CancelRequest(order_id=order_id, account=account, ts=int(time.time() * 1000)))
    metrics.CANCELS.inc()
    return JSONResponse({"order_id": order_id, "status": "CANCEL_REQUESTED"}, status_code=202)


async def cancel_all_orders(request):
    """Ask to cancel every open order of the caller, or of one symbol.
    ---
    summary: Cancel all open orders (202 once the request is on Kafka)
    parameters:
      - {in: query, name: symbol, required: false, schema: {type: string}}
    responses:
      202:
        description: >-
          cancel-all requested: every order the gate accepted before it (of the symbol,
          when given) is cancelled; each one's CANCELLED comes on the private channel
      400: {description: malformed symbol}
    """
    account = await account_of(request)
    symbol = request.query_params.get("symbol")
    if symbol is not None and not text_ok(symbol, MAX_SYMBOL_LENGTH):
        raise bad_request(f"symbol must be 1 to {MAX_SYMBOL_LENGTH} printable characters")
    await request.app.state.order_producer.send(
        account, CancelAllRequest(account=account, symbol=symbol, ts=int(time.time() * 1000)))
    metrics.CANCELS.inc()
    return JSONResponse({"symbol": symbol, "status": "CANCEL_ALL_REQUESTED"}, status_code=202)


async def _produce(producer, account: str, order_id: str, raw: bytes) -> None:
    try:
        await producer.send(account, raw)
    except ApiError as exc:
        if exc.status != 503:
            raise
        raise ApiError(503, exc.code, (
            f"{exc.message}; the outcome is unknown: order {order_id} may have been placed. "
            "A retry with the same Idempotency-Key (or with this order_id) and the same body "
            "is safe: it gets the same order id and places the order once")) from None


async def _claim_key(conn, account: str, key: str, order_id: str, digest: str) -> str | None:
    """Store the idempotency key; if it was stored before, the first request's order id."""
    stored = (await conn.execute(
        insert(idempotency_keys).values(account_id=account, key=key, order_id=order_id,
                                        request_hash=digest)
        .on_conflict_do_nothing().returning(idempotency_keys.c.order_id))).first()
    if stored is not None:
        return None
    # the insert waited for a concurrent first request to commit: its row is visible now
    first = (await conn.execute(
        select(idempotency_keys.c.order_id, idempotency_keys.c.request_hash).where(
            idempotency_keys.c.account_id == account, idempotency_keys.c.key == key))).one()
    if first.request_hash != digest:
        raise ApiError(409, "IDEMPOTENCY_KEY_REUSED",
                       "this Idempotency-Key was used with another request body")
    return first.order_id


async def _stored_request(conn, account: str, order_id: str) -> bytes | None:
    return (await conn.execute(select(issued_orders.c.request).where(
        issued_orders.c.order_id == order_id,
        issued_orders.c.account_id == account))).scalar_one_or_none()


async def _unless_recorded(conn, order_id: str, raw: bytes | None) -> bytes | None:
    """The stored request to produce again; None once the gate has recorded the id (Kafka
    had a copy) or when none was kept (ids issued before migration 0005)."""
    recorded = (await conn.execute(select(orders.c.order_id).where(
        orders.c.order_id == order_id))).first()
    return None if recorded is not None else raw


async def _issue(conn, account: str, req: NewOrderRequest, raw: bytes,
                 client_chosen: bool) -> bytes | None:
    """Record the id as this account's with the request to produce, so it can be cancelled
    and shown before the gate records it (None: newly issued). The same order (account and
    content, whatever its ts) sent again with this id is a retry: its stored request.
    An id in use otherwise is rejected here as the gate would (DUPLICATE_ORDER_ID)."""
    issued = (await conn.execute(
        insert(issued_orders).values(order_id=req.order_id, account_id=account, request=raw)
        .on_conflict_do_nothing().returning(issued_orders.c.order_id))).first()
    if issued is not None:
        taken = client_chosen and (await conn.execute(select(orders.c.order_id).where(
            orders.c.order_id == req.order_id))).first() is not None
        if not taken:
            return None
    else:
        prior = (await conn.execute(
            select(issued_orders.c.account_id, issued_orders.c.request)
            .where(issued_orders.c.order_id == req.order_id))).one()
        if prior.account_id == account and _same_order(prior.request, req):
            return prior.request
    metrics.ORDERS.labels("rejected").inc()
    metrics.REJECTIONS.labels(Reject.DUPLICATE_ORDER_ID.value).inc()
    raise rejected(Reject.DUPLICATE_ORDER_ID, "this order id is already in use")


def _same_order(stored: bytes | None, req: NewOrderRequest) -> bool:
    """Whether the stored request asks for exactly `req`; ts is only its send time."""
    prior = ORDER_REQUEST.decode(stored)
    return isinstance(prior, NewOrderRequest) and msgspec.structs.replace(prior, ts=req.ts) == req


# One statement, so one snapshot: an order the gate records meanwhile is seen either
# still pending (issued) or recorded, never neither.
_CANCEL_LOOKUP = text(
    "SELECT o.account_id, o.status, i.account_id AS issued_to "
    "FROM (SELECT CAST(:id AS varchar) AS id) k "
    "LEFT JOIN orders o ON o.order_id = k.id LEFT JOIN issued_orders i ON i.order_id = k.id")


async def _check_cancellable(db, account: str, order_id: str) -> None:
    """404 unless the order is this account's (recorded by the gate or issued by this API
    and not yet recorded), whether or not it exists; 409 once it is no longer open.
    Read from the primary: the order may have been placed a moment ago."""
    if not text_ok(order_id):
        raise not_found("order")
    async with db.connect() as conn:
        row = (await conn.execute(_CANCEL_LOOKUP, {"id": order_id})).one()
    if row.account_id is None:  # not recorded by the gate (yet)
        if row.issued_to != account:
            raise not_found("order")
    elif row.account_id != account:
        raise not_found("order")
    elif row.status not in OPEN:
        raise ApiError(409, "ORDER_NOT_OPEN", f"the order is {row.status}")


async def list_orders(request):
    """The caller's orders, newest first.
    ---
    summary: List the caller's orders
    parameters:
      - in: query
        name: status
        schema: {type: string, enum: [OPEN, ACCEPTED, PARTIALLY_FILLED, FILLED, CANCELLED, REJECTED]}
      - {in: query, name: symbol, schema: {type: string}}
      - {in: query, name: limit, schema: {type: integer, minimum: 1, maximum: 500}}
      - {in: query, name: cursor, schema: {type: string}}
    responses:
      200: {description: "items and next_cursor (null on the last page)"}
      400: {description: bad filter or cursor}
    """
    account = await account_of(request)
    status = query_text(request, "status")
    if status is not None and status != "OPEN" and status not in RECORDED:
        raise bad_request(f"status must be OPEN or one of {', '.join(RECORDED)}")
    symbol = query_text(request, "symbol", 16)
    size, cursor = limit(request), decode_cursor(request)
    query = select(orders).where(orders.c.account_id == account)
    if status is not None:
        query = query.where(orders.c.status.in_(sorted(OPEN) if status == "OPEN" else (status,)))
    if symbol is not None:
        query = query.where(orders.c.symbol == symbol)
    if cursor is not None:
        query = query.where(tuple_(orders.c.created_ms, orders.c.order_id) < tuple_(*cursor))
    query = query.order_by(orders.c.created_ms.desc(), orders.c.order_id.desc()).limit(size + 1)
    async with request.app.state.read_db.connect() as conn:
        rows = (await conn.execute(query)).all()
    return JSONResponse(page([order_view(r) for r in rows], size, "created_ms", "order_id"))


async def get_order(request):
    """One of the caller's orders with its fills.
    ---
    summary: An order and its fills
    parameters:
      - {in: path, name: order_id, required: true, schema: {type: string}}
    responses:
      200: {description: "the order; status PENDING while the gate has not recorded it yet"}
      404: {description: no such order of this account}
    """
    account = await account_of(request)
    order_id = request.path_params["order_id"]
    try:
        row = await _own_order(request, account, order_id)
    except ApiError:
        pending = await _pending_order(request, account, order_id)
        if pending is None:
            raise
        return JSONResponse(pending)
    query = (select(trades).where(or_(
        and_(trades.c.buy_order_id == row.order_id, trades.c.buyer == account),
        and_(trades.c.sell_order_id == row.order_id, trades.c.seller == account)))
        .order_by(trades.c.symbol, trades.c.seq))
    async with request.app.state.read_db.connect() as conn:
        fills = (await conn.execute(query)).all()
    return JSONResponse({**order_view(row), "fills": [
        {"trade_id": t.trade_id, "seq": t.seq, "price": money(t.price), "quantity": t.quantity,
         "liquidity": "TAKER" if t.aggressor == row.side else "MAKER",
         "executed_ms": t.executed_ms} for t in fills]})


def order_view(r) -> dict:
    return {"order_id": r.order_id, "symbol": r.symbol, "side": r.side,
            "order_type": r.order_type, "tif": r.tif, "post_only": r.post_only,
            "quantity": r.quantity, "price": money(r.price) if r.price is not None else None,
            "filled_quantity": r.filled_quantity, "cancelled_quantity": r.cancelled_quantity,
            "remaining_quantity": r.quantity - r.filled_quantity - r.cancelled_quantity,
            "status": r.status, "reject_reason": r.reject_reason,
            "reserved_cash": money(r.reserved_cash), "reserved_quantity": r.reserved_quantity,
            "created_ms": r.created_ms, "updated_ms": r.updated_ms}


async def _own_order(request, account: str, order_id: str):
    """The order if it is the caller's; otherwise 404, whether or not it exists."""
    if not text_ok(order_id):
        raise not_found("order")
    async with request.app.state.read_db.connect() as conn:
        row = (await conn.execute(select(orders).where(
            orders.c.order_id == order_id, orders.c.account_id == account))).first()
    if row is None:
        raise not_found("order")
    return row


async def _pending_order(request, account: str, order_id: str) -> dict | None:
    """The view of an order this API issued that the gate has not recorded yet, or None.
    Read from the primary: it was placed a moment ago."""
    if not text_ok(order_id):
        return None
    async with request.app.state.db.connect() as conn:
        row = (await conn.execute(select(issued_orders.c.request).where(
            issued_orders.c.order_id == order_id,
            issued_orders.c.account_id == account))).first()
        recorded = (await conn.execute(select(orders.c.order_id).where(
            orders.c.order_id == order_id))).first()
    if row is None or row.request is None or recorded is not None:
        return None
    req = msgspec.json.decode(row.request, type=NewOrderRequest)
    return {"order_id": req.order_id, "symbol": req.symbol, "side": req.side,
            "order_type": req.order_type, "tif": req.tif, "post_only": req.post_only,
            "quantity": req.quantity, "price": money(req.price) if req.price is not None else None,
            "filled_quantity": 0, "cancelled_quantity": 0, "remaining_quantity": req.quantity,
            "status": OrderStatus.PENDING, "reject_reason": None, "reserved_cash": money(0),
            "reserved_quantity": 0, "created_ms": req.ts, "updated_ms": req.ts, "fills": []}


async def _rules(db, symbol: str) -> SymbolSpec | None:
    if not text_ok(symbol, MAX_SYMBOL_LENGTH):
        return None
    async with db.connect() as conn:
        return await load_spec(conn, symbol)
