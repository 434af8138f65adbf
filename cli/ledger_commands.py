"""`matchstream account|deposit|withdraw|transfer-in|symbol`: operator commands on the ledger."""

from __future__ import annotations

import sys

from schemas.money import format_cents, parse_cents


def add_parsers(sub, func) -> None:
    account = sub.add_parser("account", help="create an account")
    account.add_argument("account_id")
    account.add_argument("--name", default="")
    account.set_defaults(func=func, action="account")
    for name, text in (("deposit", "add cash to an account"),
                       ("withdraw", "take available cash out of an account")):
        p = sub.add_parser(name, help=text)
        p.add_argument("account_id")
        p.add_argument("amount", help="dollars and cents, e.g. 2500.00")
        p.add_argument("--reference", help="idempotency key")
        p.set_defaults(func=func, action=name)
    shares = sub.add_parser("transfer-in", help="credit shares to an account from outside")
    shares.add_argument("account_id")
    shares.add_argument("symbol")
    shares.add_argument("quantity", type=int)
    shares.add_argument("--cost", help="dollars a share for its cost basis, e.g. 98.50 "
                        "(default: the symbol's reference price)")
    shares.set_defaults(func=func, action="transfer-in")
    symbol = sub.add_parser("symbol", help="add or list symbols")
    ssub = symbol.add_subparsers(dest="symbol_action", required=True)
    add = ssub.add_parser("add")
    add.add_argument("symbol")
    add.add_argument("--shares-outstanding", type=int, required=True)
    add.add_argument("--reference-price", required=True, help="dollars, e.g. 150.00")
    add.add_argument("--tick", default="0.01", help="tick size in dollars (default 0.01)")
    add.set_defaults(func=func, action="symbol-add")
    ssub.add_parser("list").set_defaults(func=func, action="symbol-list")
    skip = sub.add_parser("skip", help="let a stage that is stopped on one record (it logs "
                          "STOPPED with the record) dead-letter it and go on")
    skip.add_argument("topic", help="the topic's name without the namespace, e.g. trades")
    skip.add_argument("partition", type=int)
    skip.add_argument("offset", type=int)
    skip.add_argument("--reason", required=True, help="why; it goes into the dead letter")
    skip.set_defaults(func=func, action="skip")


def run(args) -> None:
    from infra.settings import load
    from ledger import admin
    from ledger.db import make_engine

    engine = make_engine(load().database_url)
    try:
        _dispatch(args, engine, admin)
    except (admin.LedgerError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    finally:
        engine.dispose()


def _dispatch(args, engine, admin) -> None:
    if args.action == "account":
        created = admin.create_account(engine, args.account_id, args.name)
        print(f"account {args.account_id}: {'created' if created else 'already exists'}")
    elif args.action in ("deposit", "withdraw"):
        cents = parse_cents(args.amount)
        sign = 1 if args.action == "deposit" else -1
        balance = admin.adjust(engine, args.account_id, admin.CASH, sign * cents, args.reference)
        print(f"account {args.account_id}: available cash {format_cents(balance)}")
    elif args.action == "transfer-in":
        cost = None if args.cost is None else parse_cents(args.cost)
        balance = admin.adjust(engine, args.account_id, args.symbol, args.quantity,
                               cost_per_share=cost)
        print(f"account {args.account_id}: {balance} {args.symbol} available")
    elif args.action == "symbol-add":
        from infra.settings import load
        from infra.topics import partition_count

        created = admin.add_symbol(engine, args.symbol, args.shares_outstanding,
                                   parse_cents(args.reference_price), parse_cents(args.tick),
                                   orders_partitions=partition_count(load(), "orders"))
        print(f"symbol {args.symbol}: {'added' if created else 'already exists'}")
    elif args.action == "skip":
        from infra.settings import load

        topic = load().topic(args.topic)
        new = admin.skip_record(engine, topic, args.partition, args.offset, args.reason)
        print(f"{topic}[{args.partition}]@{args.offset}: "
              f"{'to be skipped' if new else 'was already to be skipped'}; a stage stopped on "
              "it dead-letters it at its next retry")
    else:
        for s in admin.list_symbols(engine):
            print(f"{s['symbol']:8} tick {format_cents(s['tick_size'])}  "
                  f"shares {s['shares_outstanding']:>14,}  "
                  f"ref {format_cents(s['reference_price'])}  "
                  f"last {format_cents(s['last_price']) if s['last_price'] else '-'}")
