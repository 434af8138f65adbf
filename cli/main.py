"""`matchstream`: start and stop the services, run the worker, the API and the demo."""

from __future__ import annotations

import argparse
import sys

from infra.settings import load
from streams.runtime.stages import STAGES


def _services(args) -> None:
    from infra import services
    from ledger.migrate import upgrade

    from infra.kafka_broker import KafkaError, set_cluster_size

    settings = load()
    if args.command == "up":
        try:
            if args.brokers:
                set_cluster_size(settings, args.brokers)
                settings = load()
            services.up(settings)
        except KafkaError as exc:
            sys.exit(f"kafka: {exc}")
        upgrade(settings.database_url)
        print(f"ledger: schema up to date; logs are in {settings.log_dir}")
    elif args.command == "down":
        services.down(settings)
    else:
        for name, state in services.status(settings).items():
            print(f"{name}: {state}")


def _topics(args) -> None:
    from infra.partitions import PartitionsRefused, grow
    from infra.topics import TOPICS, changelogs, counts, ensure_topics

    from infra.replication import cluster_replication

    settings = load()
    if args.partitions is None:
        ensure_topics(settings)
    else:
        try:
            grow(settings, args.partitions)
        except PartitionsRefused as exc:
            sys.exit(f"topics: {exc}")
    replication = cluster_replication(settings)
    print(f"replication: {replication.factor} copies, {replication.min_insync} in sync")
    names = [settings.topic(spec.name) for spec in TOPICS]
    found = counts(settings, [*names, *changelogs(settings)])
    for name, spec in zip(names, TOPICS):
        print(f"{name:16} key={spec.key:14} partitions={found.get(name, '-'):<3} "
              f"cleanup={spec.cleanup:14} {spec.purpose}")
    unmade = "- (made by its stage, with its source topic's count)"
    for name in changelogs(settings):
        print(f"{name:16} partitions={found.get(name, unmade)}")


def _migrate(args) -> None:
    from ledger.migrate import upgrade

    upgrade(load().database_url)
    print("ledger: schema up to date")


def _worker(args) -> None:
    import os

    settings = load()
    if args.stage is None or os.environ.get("MATCHSTREAM_STAGE") != args.stage:
        from streams.runtime.supervisor import run

        print(f"worker: consumer groups {settings.app_id}-<stage> on "
              f"{settings.kafka_bootstrap}", flush=True)
        port = args.metrics_port
        if port is None:
            from streams.runtime.metrics_server import port_from_env

            port = port_from_env()
        stages = None if args.stage is None else [args.stage]
        sys.exit(run(stages, args.faust_args, settings.home / "run", port))
    from streams.runtime.stages import group_id
    from streams.runtime.worker import main

    # a stage process of the supervisor
    print(f"worker: stage {args.stage}, consumer group {group_id(settings, args.stage)}",
          flush=True)
    main(args.stage, args.faust_args)


def _api(args) -> None:
    import uvicorn

    print(f"api: serving on http://{args.host}:{args.port}", flush=True)
    # the server drops frames over 1 MiB itself; api/ws.py refuses messages over 64 KiB
    uvicorn.run("api.app:app", host=args.host, port=args.port, log_level="info",
                ws_max_size=1 << 20)


def _reconcile(args) -> None:
    import time

    from ledger.db import make_engine
    from ledger.reconcile import reconcile

    settings = load()
    engine = make_engine(settings.database_url)
    deadline = time.monotonic() + args.wait
    while True:
        checks = reconcile(engine, settings.kafka_bootstrap, settings.topic("trades"))
        if all(c.ok for c in checks) or time.monotonic() >= deadline:
            break
        time.sleep(1)
    for check in checks:
        print(f"{'PASS' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
    engine.dispose()
    sys.exit(0 if all(c.ok for c in checks) else 1)


def _demo(args) -> None:
    from cli.demo import run

    run(args)


def _prune(args) -> None:
    from ledger.db import make_engine
    from ledger.retention import RETENTION_HOURS, prune

    hours = RETENTION_HOURS if args.retention_hours is None else args.retention_hours
    engine = make_engine(load().database_url, pool_size=1)
    try:
        removed = prune(engine, hours)
    finally:
        engine.dispose()
    print(f"prune: removed {removed['idempotency_keys']} idempotency keys and "
          f"{removed['issued_orders']} issued order ids older than {hours:g} h")


def _ledger(args) -> None:
    from cli import ledger_commands

    ledger_commands.run(args)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"a positive whole number, not {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="matchstream", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("up", "start Kafka and PostgreSQL, create topics, migrate the ledger"),
                       ("down", "stop the services this project started"),
                       ("status", "say whether Kafka and PostgreSQL answer, Kafka's brokers "
                        "and its under-replicated partitions")):
        command = sub.add_parser(name, help=text)
        command.set_defaults(func=_services)
    up = sub.choices["up"]
    up.add_argument("--brokers", type=_positive, default=None,
                    help="run Kafka as a cluster of this many brokers on this machine "
                    "(default: as before, 1 at first); replication follows its size")
    topics = sub.add_parser("topics", help="create the platform's topics (idempotent) and "
                            "list them with their partitions")
    topics.add_argument("--partitions", type=_positive, default=None,
                        help="raise order-requests, orders, matcher-results and the stages' "
                        "changelogs to N partitions, running or not (never fewer; idempotent)")
    topics.set_defaults(func=_topics)
    sub.add_parser("migrate", help="apply the ledger's migrations").set_defaults(func=_migrate)
    worker = sub.add_parser("worker", help="run the pipeline: one process per stage "
                            "(gate, matcher, settlement, market)")
    worker.add_argument("--stage", choices=sorted(STAGES), default=None,
                        help="run only this stage (add processes to scale a stage out)")
    worker.add_argument("--metrics-port", type=int, default=None,
                        help="serve the stages' metrics on 127.0.0.1:PORT (default "
                        "MATCHSTREAM_WORKER_METRICS_PORT or 39464; 0: off)")
    worker.add_argument("faust_args", nargs=argparse.REMAINDER)
    worker.set_defaults(func=_worker)
    api = sub.add_parser("api", help="run the Starlette API")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8080)
    api.set_defaults(func=_api)
    rec = sub.add_parser("reconcile", help="check the ledger's invariants; non-zero on violation")
    rec.add_argument("--wait", type=float, default=0,
                     help="retry for up to this many seconds while settlement catches up")
    rec.set_defaults(func=_reconcile)
    prune = sub.add_parser("prune", help="delete idempotency keys and issued order ids past "
                           "retention (the worker does it every hour)")
    prune.add_argument("--retention-hours", type=float, default=None,
                       help="default 24 (ledger/retention.py)")
    prune.set_defaults(func=_prune)
    demo = sub.add_parser("demo", help="services, worker, API and a simulated market")
    demo.add_argument("--port", type=int, default=8080)
    demo.add_argument("--seconds", type=float, default=0,
                      help="stop after this long (default: until Ctrl-C)")
    demo.set_defaults(func=_demo)
    from cli import ledger_commands

    ledger_commands.add_parsers(sub, _ledger)
    from cli import token_commands

    token_commands.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
