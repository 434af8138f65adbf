"""`matchstream token ACCOUNT` / `matchstream token --admin`: mint an API token (shown once)."""

from __future__ import annotations

import sys


def add_parser(sub) -> None:
    token = sub.add_parser("token", help="mint an API token for an account, or an admin token")
    token.add_argument("account", nargs="?", help="the account the token acts for")
    token.add_argument("--admin", action="store_true", help="an admin token (no account)")
    token.add_argument("--label", default="cli", help="what the token is for")
    token.set_defaults(func=run)


def run(args) -> None:
    from sqlalchemy import select

    from api.auth import issue_token
    from infra.settings import load
    from ledger.db import make_engine
    from ledger.tables import accounts

    if args.admin == bool(args.account):
        sys.exit("token: give either an ACCOUNT or --admin")
    engine = make_engine(load().database_url, pool_size=1)
    try:
        if args.account:
            with engine.connect() as conn:
                if conn.execute(select(accounts.c.account_id)
                                .where(accounts.c.account_id == args.account)).first() is None:
                    sys.exit(f"token: unknown account {args.account!r}")
        print(issue_token(engine, args.account, is_admin=args.admin, label=args.label))
    finally:
        engine.dispose()
