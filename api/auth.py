"""API tokens: bearer tokens whose SHA-256 is stored in api_tokens, one account each.

An admin token has no account and may use the admin endpoints only. A token expires
(DEFAULT_TTL_DAYS unless told otherwise) and can be revoked; it is named by its first
PREFIX_LENGTH characters, which alone cannot be used.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass(frozen=True)
class Principal:
    account_id: str | None
    is_admin: bool


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


DEFAULT_TTL_DAYS = 90
PREFIX_LENGTH = 10  # "ms_" and 7 random characters


def now_ms() -> int:
    return int(time.time() * 1000)


def issue_token(engine: Engine, account_id: str | None, is_admin: bool = False,
                label: str = "", ttl_days: float | None = DEFAULT_TTL_DAYS) -> str:
    """Create a token (shown once) for an account, or an admin token with account None;
    it expires after ttl_days (None: never)."""
    token = "ms_" + secrets.token_urlsafe(24)
    expires = None if ttl_days is None else now_ms() + int(ttl_days * 86_400_000)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO api_tokens (token_hash, account_id, is_admin, label, "
                          "prefix, expires_ms) VALUES (:h, :a, :adm, :l, :p, :e)"),
                     {"h": hash_token(token), "a": account_id, "adm": is_admin, "l": label,
                      "p": token[:PREFIX_LENGTH], "e": expires})
    return token


async def principal_for(db: AsyncEngine, token: str | None) -> Principal | None:
    """Who a token acts for; None if it is unknown, expired or revoked."""
    if not token:
        return None
    async with db.connect() as conn:
        row = (await conn.execute(text(
            "SELECT account_id, is_admin FROM api_tokens WHERE token_hash = :h "
            "AND revoked_ms IS NULL AND (expires_ms IS NULL OR expires_ms > :now)"),
            {"h": hash_token(token), "now": now_ms()})).first()
    return Principal(row[0], row[1]) if row else None


def list_tokens(engine: Engine, account_id: str | None = None) -> list[dict]:
    """Every token (of one account), by prefix: never the token itself."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT prefix, token_hash, account_id, is_admin, label, created_ms, expires_ms, "
            "revoked_ms FROM api_tokens WHERE CAST(:a AS text) IS NULL OR account_id = :a "
            "ORDER BY created_ms"), {"a": account_id}).mappings().all()
    return [{**row, "prefix": row["prefix"] or "hash:" + row["token_hash"][:8]}
            for row in rows]


def revoke_token(engine: Engine, prefix: str) -> int:
    """Revoke the one live token named by prefix (or "hash:" and its hash's first
    characters); returns how many matched (only 1 revokes)."""
    if prefix.startswith("hash:"):
        where, value = "token_hash LIKE :v", prefix[5:] + "%"
    else:
        where, value = "prefix = :v", prefix
    with engine.begin() as conn:
        ids = conn.execute(text(f"SELECT token_hash FROM api_tokens WHERE {where} "
                                "AND revoked_ms IS NULL FOR UPDATE"), {"v": value}).all()
        if len(ids) == 1:
            conn.execute(text("UPDATE api_tokens SET revoked_ms = :now WHERE token_hash = :h"),
                         {"now": now_ms(), "h": ids[0][0]})
    return len(ids)


def bearer(headers) -> str | None:
    """The token of an `Authorization: Bearer ...` header, if any."""
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None
