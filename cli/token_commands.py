"""`matchstream token`: mint an API token (shown once), list tokens by prefix, revoke one.

    matchstream token ACCOUNT [--ttl-days N]     a token acting for ACCOUNT
    matchstream token --admin [--ttl-days N]     an admin token (no account)
    matchstream token --list [ACCOUNT]           prefixes, accounts, labels, expiry, state
    matchstream token --revoke PREFIX            revoke the one live token with that prefix
"""

from __future__ import annotations

import sys
import time

from api.auth import DEFAULT_TTL_DAYS


def add_parser(sub) -> None:
    token = sub.add_parser("token", help="mint, list or revoke API tokens")
    token.add_argument("account", nargs="?", help="the account the token acts for")
    token.add_argument("--admin", action="store_true", help="an admin token (no account)")
    token.add_argument("--label", default="cli", help="what the token is for")
    token.add_argument("--ttl-days", type=float, default=DEFAULT_TTL_DAYS,
                       help=f"days until it expires (default {DEFAULT_TTL_DAYS}; 0: never)")
    token.add_argument("--list", action="store_true",
                       help="list tokens (of ACCOUNT if given) by prefix; never the token")
    token.add_argument("--revoke", metavar="PREFIX", help="revoke the token with this prefix")
    token.set_defaults(func=run)


def run(args) -> None:
    from infra.settings import load
    from ledger.db import make_engine

    engine = make_engine(load().database_url, pool_size=1)
    try:
        if args.list:
            _list(engine, args.account)
        elif args.revoke:
            _revoke(engine, args.revoke)
        else:
            _mint(engine, args)
    finally:
        engine.dispose()


def _mint(engine, args) -> None:
    from sqlalchemy import select

    from api.auth import issue_token
    from ledger.tables import accounts

    if args.admin == bool(args.account):
        sys.exit("token: give either an ACCOUNT or --admin")
    if args.account:
        with engine.connect() as conn:
            if conn.execute(select(accounts.c.account_id)
                            .where(accounts.c.account_id == args.account)).first() is None:
                sys.exit(f"token: unknown account {args.account!r}")
    print(issue_token(engine, args.account, is_admin=args.admin, label=args.label,
                      ttl_days=args.ttl_days or None))


def _list(engine, account: str | None) -> None:
    from api.auth import list_tokens, now_ms

    print(f"{'prefix':<14} {'account':<16} {'label':<12} {'created':<17} "
          f"{'expires':<17} state")
    for t in list_tokens(engine, account):
        state = ("revoked" if t["revoked_ms"] else
                 "expired" if t["expires_ms"] and t["expires_ms"] <= now_ms() else "live")
        who = "(admin)" if t["is_admin"] else t["account_id"]
        print(f"{t['prefix']:<14} {who:<16} {t['label'][:12]:<12} {_when(t['created_ms']):<17} "
              f"{_when(t['expires_ms']):<17} {state}")


def _revoke(engine, prefix: str) -> None:
    from api.auth import PREFIX_LENGTH, revoke_token

    if len(prefix) < min(PREFIX_LENGTH, 8):
        sys.exit(f"token: a prefix is the first {PREFIX_LENGTH} characters "
                 "(see `matchstream token --list`)")
    matched = revoke_token(engine, prefix)
    if matched != 1:
        sys.exit(f"token: {matched} live tokens have the prefix {prefix!r}; nothing revoked")
    print(f"token: {prefix} revoked")


def _when(ms: int | None) -> str:
    return "never" if ms is None else time.strftime("%Y-%m-%d %H:%M", time.gmtime(ms / 1000))
