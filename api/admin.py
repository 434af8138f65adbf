"""Operator endpoints (admin token): accounts with their first token, deposits and
withdrawals as adjustment rows, symbols. The ledger's functions are synchronous: they
run in a thread on the API's small synchronous engine (app.state.ledger_engine)."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Annotated

import msgspec
from confluent_kafka import KafkaException
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from starlette.responses import JSONResponse

from api.auth import issue_token
from api.common import CLIENT_ID_CHARS, client_id_ok, json_body, require_admin
from api.errors import ApiError, not_found
from api.queries import symbol_list, symbol_view
from infra.topics import partition_count
from ledger import admin as ledger
from ledger.tables import accounts, adjustments, symbols
from schemas.records import MAX_PRICE, MAX_SYMBOL_LENGTH, text_ok

Positive32 = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
Positive64 = Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]
BROKER_TIMEOUT_S = 5.0  # reading how many partitions `orders` has
MAX_ADJUSTMENT = 10**15  # cents or shares: far inside BIGINT whatever the balance


class NewAccount(msgspec.Struct, forbid_unknown_fields=True):
    account_id: str
    name: str = ""


class Adjustment(msgspec.Struct, forbid_unknown_fields=True):
    asset: str  # CASH or a symbol
    amount: Annotated[int, msgspec.Meta(ge=-MAX_ADJUSTMENT, le=MAX_ADJUSTMENT)]
    reference: str  # idempotency key: the same reference is applied once
    note: str = ""
    # shares coming in: cents each to the cost basis (None: the symbol's reference price)
    cost_per_share: Annotated[int, msgspec.Meta(ge=0, lt=2**40)] | None = None


class NewSymbol(msgspec.Struct, forbid_unknown_fields=True):
    symbol: str
    shares_outstanding: Positive64
    reference_price: Annotated[int, msgspec.Meta(ge=1, le=MAX_PRICE)]
    tick_size: Positive32 = 1
    lot_size: Positive32 = 1
    max_order_quantity: Positive64 = 1_000_000
    name: str = ""


async def create_account(request):
    """Create an account and its first API token (shown once).
    ---
    summary: Create an account (admin)
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [account_id]
            additionalProperties: false
            properties:
              account_id: {type: string, pattern: "^[A-Za-z0-9._:-]{1,64}$"}
              name: {type: string}
    responses:
      201: {description: the account and its token}
      409: {description: the account exists}
    """
    await require_admin(request)
    body = await json_body(request, NewAccount)
    if not client_id_ok(body.account_id, 64) or not _printable(body.name):
        raise ApiError(422, "BAD_ACCOUNT_ID", f"account id must be 1 to 64 of {CLIENT_ID_CHARS}")
    # not ledger.create_account: its rowcount test says False on psycopg 3 even when it inserts
    async with request.app.state.db.begin() as conn:
        made = (await conn.execute(insert(accounts).values(
            account_id=body.account_id, name=body.name).on_conflict_do_nothing()
            .returning(accounts.c.account_id))).first()
    if made is None:
        raise ApiError(409, "ACCOUNT_EXISTS", f"account {body.account_id!r} exists")
    token = await asyncio.to_thread(issue_token, request.app.state.ledger_engine,
                                    body.account_id, False, "api")
    return JSONResponse({"account_id": body.account_id, "token": token}, status_code=201)


async def adjust(request):
    """Deposit (+) or withdraw (-) cash in cents (asset CASH) or shares (asset = symbol).
    ---
    summary: Deposit or withdraw (admin), idempotent by reference
    parameters:
      - {in: path, name: account_id, required: true, schema: {type: string}}
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [asset, amount, reference]
            additionalProperties: false
            properties:
              asset: {type: string, description: CASH or a symbol}
              amount: {type: integer, description: "signed cents (CASH) or shares"}
              reference: {type: string, pattern: "^[A-Za-z0-9._:-]{1,64}$"}
              note: {type: string}
              cost_per_share:
                type: integer
                minimum: 0
                description: "shares coming in: cents each added to the holding's cost
                  basis (default: the symbol's reference price)"
    responses:
      200: {description: the new available balance}
      404: {description: unknown account}
      409: {description: reference used for another adjustment}
      422: {description: "zero amount, unknown asset, too little to withdraw, or past 64 bits"}
    """
    await require_admin(request)
    account = request.path_params["account_id"]
    body = await json_body(request, Adjustment)
    if not client_id_ok(body.reference, 64) or not _printable(body.note):
        raise ApiError(422, "BAD_REFERENCE", f"reference must be 1 to 64 of {CLIENT_ID_CHARS}")
    if body.amount == 0:
        raise ApiError(422, "BAD_AMOUNT", "amount must not be zero")
    # references are per account: one account's reference never answers for another
    reference = "api:" + hashlib.sha256(f"{account}\0{body.reference}".encode()).hexdigest()[:56]
    async with request.app.state.db.connect() as conn:
        if not text_ok(account) or (await conn.execute(select(accounts.c.account_id).where(
                accounts.c.account_id == account))).first() is None:
            raise not_found("account")
        if body.asset != ledger.CASH and (
                not text_ok(body.asset, MAX_SYMBOL_LENGTH) or (await conn.execute(
                    select(symbols.c.symbol).where(symbols.c.symbol == body.asset))
                ).first() is None):
            raise ApiError(422, "UNKNOWN_SYMBOL", f"unknown asset {body.asset!r}")
        done = (await conn.execute(select(adjustments.c.asset, adjustments.c.amount).where(
            adjustments.c.reference == reference))).first()
    if done is not None and (done.asset, done.amount) != (body.asset, body.amount):
        raise ApiError(409, "REFERENCE_REUSED", "this reference was used for another adjustment")
    try:
        balance = await asyncio.to_thread(ledger.adjust, request.app.state.ledger_engine, account,
                                          body.asset, body.amount, reference, body.note,
                                          body.cost_per_share)
    except ledger.OutOfRange as exc:
        raise ApiError(422, "OUT_OF_RANGE", str(exc)) from None
    except ledger.LedgerError as exc:
        code = "INSUFFICIENT_FUNDS" if body.asset == ledger.CASH else "INSUFFICIENT_SHARES"
        raise ApiError(422, code, str(exc)) from None
    return JSONResponse({"account_id": account, "asset": body.asset, "available": balance,
                         "replayed": done is not None})


async def add_symbol(request):
    """List a new symbol.
    ---
    summary: Add a symbol (admin)
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [symbol, shares_outstanding, reference_price]
            additionalProperties: false
            properties:
              symbol: {type: string, minLength: 1, maxLength: 16}
              shares_outstanding: {type: integer, minimum: 1}
              reference_price: {type: integer, minimum: 1, description: cents}
              tick_size: {type: integer, minimum: 1, description: cents}
              lot_size: {type: integer, minimum: 1}
              max_order_quantity: {type: integer, minimum: 1}
              name: {type: string}
    responses:
      201: {description: the symbol}
      409: {description: the symbol exists}
      422: {description: invalid symbol or rules}
      503: {description: the broker cannot say how many partitions orders has}
    """
    await require_admin(request)
    b = await json_body(request, NewSymbol)
    if not _printable(b.name) or not (b.symbol.isascii() and b.symbol.isprintable()):
        raise ApiError(422, "BAD_SYMBOL", "symbol must be ASCII letters or digits, name printable")
    if await _symbol_exists(request, b.symbol):
        raise ApiError(409, "SYMBOL_EXISTS", f"symbol {b.symbol!r} exists")
    try:  # the symbol's home partition is chosen among those `orders` has now
        partitions = await asyncio.to_thread(partition_count, request.app.state.settings,
                                             "orders", BROKER_TIMEOUT_S)
    except KafkaException as exc:
        raise ApiError(503, "KAFKA_UNAVAILABLE", f"could not read the orders topic: {exc}") \
            from None
    try:
        await asyncio.to_thread(
            ledger.add_symbol, request.app.state.ledger_engine, b.symbol, b.shares_outstanding,
            b.reference_price, b.tick_size, b.lot_size, b.max_order_quantity, b.name,
            orders_partitions=partitions)
    except ledger.LedgerError as exc:
        raise ApiError(422, "BAD_SYMBOL", str(exc)) from None
    async with request.app.state.db.connect() as conn:
        row = (await conn.execute(select(symbols).where(symbols.c.symbol == b.symbol))).one()
    return JSONResponse(symbol_view(row), status_code=201)


async def admin_symbols(request):
    """Every symbol (admin view; the same as /v1/symbols).
    ---
    summary: List symbols (admin)
    responses:
      200: {description: the symbols}
    """
    await require_admin(request)
    return await symbol_list(request)


async def _symbol_exists(request, symbol: str) -> bool:
    # ledger.add_symbol's True/False is unreliable on psycopg 3 (rowcount): look first
    async with request.app.state.db.connect() as conn:
        return (await conn.execute(select(symbols.c.symbol)
                                   .where(symbols.c.symbol == symbol))).first() is not None


def _printable(text: str) -> bool:
    return len(text) <= 200 and (text == "" or text.isprintable())
