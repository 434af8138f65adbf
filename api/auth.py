"""API tokens: bearer tokens whose SHA-256 is stored in api_tokens, one account each.

An admin token has no account and may use the admin endpoints only.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass(frozen=True)
class Principal:
    account_id: str | None
    is_admin: bool


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(engine: Engine, account_id: str | None, is_admin: bool = False,
                label: str = "") -> str:
    """Create a token (shown once) for an account, or an admin token with account None."""
    token = "ms_" + secrets.token_urlsafe(24)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO api_tokens (token_hash, account_id, is_admin, label) "
                          "VALUES (:h, :a, :adm, :l)"),
                     {"h": hash_token(token), "a": account_id, "adm": is_admin, "l": label})
    return token


async def principal_for(db: AsyncEngine, token: str | None) -> Principal | None:
    if not token:
        return None
    async with db.connect() as conn:
        row = (await conn.execute(text(
            "SELECT account_id, is_admin FROM api_tokens WHERE token_hash = :h"),
            {"h": hash_token(token)})).first()
    return Principal(row[0], row[1]) if row else None


def bearer(headers) -> str | None:
    """The token of an `Authorization: Bearer ...` header, if any."""
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None
