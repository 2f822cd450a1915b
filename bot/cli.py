"""The ``helpline`` command (contract section 6)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from bot.config import Settings
from bot.errors import ConfigError, HelplineError

if TYPE_CHECKING:
    from bot.db import Database

log = logging.getLogger("bot.cli")


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs full URLs, which can carry tokens; our own log lines say what matters.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _ready_for_traffic() -> None:
    """Build the models made on first use, then keep start-up's objects out of collection.

    Language identification and the red-flag engine take about 0.4 s to build: the first
    person to write should not wait for them. The garbage collector's full passes walk
    every object (about 200,000 in a running service, some 100 ms during which it answers
    nothing); what exists once the process is up lives as long as it does, so it is
    collected once and frozen (gc.freeze).
    """
    import gc

    from bot import langid, redflags

    langid.model()
    redflags.get_engine()
    gc.collect()
    gc.freeze()


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from bot.app import create_app

    settings_db_upgrade(settings)
    app = create_app(settings, run_worker=not args.no_worker)
    _ready_for_traffic()
    # No access log: request lines can carry tokens and say who wrote when.
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_level=settings.log_level.lower(),
        # The dashboard's live streams never end by themselves: do not wait on them forever.
        timeout_graceful_shutdown=5,
    )
    return 0


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app_state import AppState
    from bot.worker import Worker

    if not settings.uses_redis:
        log.warning(
            "no REDIS_URL: this worker only sees new messages through its periodic sweep; "
            "`helpline serve` already runs a worker in process"
        )

    async def main() -> None:
        state = AppState.build(settings)
        state.use_database_threads()
        _ready_for_traffic()
        try:
            await Worker(state).run()
        finally:
            await state.close()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    return 0


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.runner import run

    settings_db_upgrade(settings)
    return run(settings)


def settings_db_upgrade(settings: Settings) -> None:
    from bot.db import upgrade

    upgrade(settings.database_url)


def cmd_db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    settings_db_upgrade(settings)
    print("database is at the latest schema")
    return 0


def _with_session(settings: Settings) -> Database:
    from bot import crypto
    from bot.db import Database

    crypto.configure(crypto.Cipher(settings.data_keys, settings.secret_key))
    return Database(settings.database_url)


def cmd_orgs_create(settings: Settings, args: argparse.Namespace) -> int:
    from bot.auth import create_organisation
    from bot.languages import normalise

    languages = []
    for code in _csv(args.languages):
        language = normalise(code)
        if language is None:
            raise HelplineError(f"unsupported language {code!r}")
        languages.append(language)
    countries = [c.upper() for c in _csv(args.countries)]
    for country in countries:
        if len(country) != 2 or not country.isalpha():
            raise HelplineError(f"country must be an ISO 3166 alpha-2 code, got {country!r}")
    db = _with_session(settings)
    with db.session() as session:
        org = create_organisation(session, args.name, languages, countries)
        print(
            f"organisation {org.name!r} created (id {org.id}; languages: "
            f"{','.join(languages) or 'all'}; countries: {','.join(countries) or 'all'})"
        )
    return 0


def cmd_users_create(settings: Settings, args: argparse.Namespace) -> int:
    from bot.auth import create_user

    if not args.password_stdin:
        raise HelplineError("give the password on standard input with --password-stdin")
    password = sys.stdin.readline().rstrip("\r\n")
    db = _with_session(settings)
    with db.session() as session:
        user = create_user(
            session,
            organisation=args.org,
            username=args.username,
            role=args.role,
            password=password,
        )
        print(f"user {user.username!r} created ({user.role} of {args.org!r})")
    return 0


def cmd_analyze(settings: Settings | None, args: argparse.Namespace) -> int:
    from bot.analyze import analyze_lines

    for line in analyze_lines(sys.stdin):
        print(line, flush=True)
    return 0


def cmd_telegram_set_webhook(settings: Settings, args: argparse.Namespace) -> int:
    from channels.telegram import ALLOWED_UPDATES, set_webhook

    url = asyncio.run(set_webhook(settings, args.url))
    print(f"Telegram will post {', '.join(ALLOWED_UPDATES)} updates to {url}")
    return 0


def cmd_content_check(settings: Settings | None, args: argparse.Namespace) -> int:
    from bot.app_state import PROJECT_ROOT
    from bot.content_check import run

    report = run(PROJECT_ROOT)
    print(report.render())
    return 0 if report.ok else 1


def cmd_services_import(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from bot import hsds

    db = _with_session(settings)
    with db.session() as session:
        summary = hsds.import_path(session, Path(args.path), demo=args.demo)
    print(f"imported {summary.render()}")
    return 0


def cmd_services_export(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from bot import hsds

    db = _with_session(settings)
    with db.session() as session:
        tables = hsds.export_path(session, Path(args.path))
    print(f"exported {len(tables['service'])} services to {args.path}")
    return 0


def cmd_demo_seed(settings: Settings, args: argparse.Namespace) -> int:
    from bot import demo

    settings_db_upgrade(settings)
    db = _with_session(settings)
    with db.session() as session:
        for line in demo.seed(session, settings.environment):
            print(line)
    return 0


def cmd_keys_rotate(settings: Settings, args: argparse.Namespace) -> int:
    from bot.keys import rotate

    if args.batch_size <= 0:
        raise HelplineError("--batch-size must be greater than zero")
    db = _with_session(settings)
    try:
        result = rotate(db, batch_size=args.batch_size)
    finally:
        db.dispose()
    print(result.render())
    return 0


def cmd_retention_run(settings: Settings, args: argparse.Namespace) -> int:
    from bot import retention
    from bot.queue import make_queue
    from bot.tracker_store import make_tracker_store

    db = _with_session(settings)

    async def main() -> retention.Report:
        trackers = make_tracker_store(settings)
        queue = make_queue(settings.redis_url)
        try:
            return await retention.run(db, trackers, queue, settings.retention_days)
        finally:
            await trackers.close()
            await queue.close()

    try:
        report = asyncio.run(main())
    finally:
        db.dispose()
    print(f"retention {settings.retention_days} days: {report.render()}")
    return 0


def cmd_keys_generate(settings: Settings | None, args: argparse.Namespace) -> int:
    from cryptography.fernet import Fernet

    print(Fernet.generate_key().decode("ascii"))
    return 0


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {value!r}") from None


def cmd_report(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from sqlalchemy import select

    from bot import report
    from bot.models import Organisation

    db = _with_session(settings)
    out = Path(args.out or settings.var_dir / "reports" / f"{args.start}_{args.end}")
    with db.session() as session:
        organisation_id = None
        if args.org:
            organisation_id = session.scalar(
                select(Organisation.id).where(Organisation.name == args.org)
            )
            if organisation_id is None:
                raise HelplineError(f"no organisation {args.org!r}")
        try:
            figures = report.build(session, args.start, args.end, organisation_id=organisation_id)
        except ValueError as error:
            raise HelplineError(str(error)) from None
    report.write(figures, out)
    print(f"report written to {out / 'report.html'} (charts as PNG, figures as CSV beside it)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="helpline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="the web service (webhooks, NLG, API) with a worker")
    serve.add_argument(
        "--no-worker",
        action="store_true",
        help="do not embed a worker (needs REDIS_URL and `helpline worker`)",
    )
    serve.set_defaults(func=cmd_serve)
    commands.add_parser("worker", help="a worker process (with REDIS_URL)").set_defaults(
        func=cmd_worker
    )
    commands.add_parser("run", help="everything, as `make run` does").set_defaults(func=cmd_run)

    commands.add_parser(
        "analyze", help="red flags and language of JSON lines on standard input"
    ).set_defaults(func=cmd_analyze, needs_settings=False)

    content = commands.add_parser("content", help="rights content and translations")
    content_commands = content.add_subparsers(dest="content_command", required=True)
    content_commands.add_parser(
        "check", help="examples, translations, placeholders and SMS budgets in every language"
    ).set_defaults(func=cmd_content_check, needs_settings=False)

    db = commands.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply migrations (Alembic)").set_defaults(func=cmd_db_upgrade)

    keys = commands.add_parser("keys", help="encryption keys").add_subparsers(
        dest="keys_command", required=True
    )
    rotate = keys.add_parser(
        "rotate",
        help="re-encrypt stored data with the first HELPLINE_DATA_KEY and recompute "
        "address hashes with HELPLINE_SECRET_KEY (idempotent, resumable)",
    )
    rotate.add_argument("--batch-size", type=int, default=500, help="rows per transaction")
    rotate.set_defaults(func=cmd_keys_rotate)
    keys.add_parser("generate", help="print a new data key").set_defaults(
        func=cmd_keys_generate, needs_settings=False
    )

    retention = commands.add_parser("retention", help="data retention").add_subparsers(
        dest="retention_command", required=True
    )
    retention.add_parser(
        "run",
        help="erase transcripts older than RETENTION_DAYS, keeping anonymous daily counts",
    ).set_defaults(func=cmd_retention_run)

    orgs = commands.add_parser("orgs", help="organisations").add_subparsers(
        dest="orgs_command", required=True
    )
    create_org = orgs.add_parser("create", help="create an organisation")
    create_org.add_argument("name")
    create_org.add_argument("--languages", help="comma-separated ISO 639-1 codes (default: all)")
    create_org.add_argument("--countries", help="comma-separated ISO 3166 codes (default: all)")
    create_org.set_defaults(func=cmd_orgs_create)

    users = commands.add_parser("users", help="users").add_subparsers(
        dest="users_command", required=True
    )
    create_user = users.add_parser("create", help="create a user")
    create_user.add_argument("--org", required=True)
    create_user.add_argument("--username", required=True)
    create_user.add_argument(
        "--role", required=True, choices=["caseworker", "supervisor", "editor", "admin"]
    )
    create_user.add_argument("--password-stdin", action="store_true")
    create_user.set_defaults(func=cmd_users_create)

    services = commands.add_parser(
        "services", help="the services directory (Open Referral HSDS)"
    ).add_subparsers(dest="services_command", required=True)
    services_import = services.add_parser(
        "import", help="load a folder of HSDS CSV files or an HSDS JSON file (all or nothing)"
    )
    services_import.add_argument("path")
    services_import.add_argument(
        "--demo", action="store_true", help="mark every imported row as demo data"
    )
    services_import.set_defaults(func=cmd_services_import)
    services_export = services.add_parser(
        "export", help="write the directory as HSDS: a folder of CSV files, or PATH.json"
    )
    services_export.add_argument("path")
    services_export.set_defaults(func=cmd_services_export)

    demo = commands.add_parser("demo", help="demonstration data").add_subparsers(
        dest="demo_command", required=True
    )
    demo.add_parser(
        "seed", help="demo organisations, users and services, all marked as demo"
    ).set_defaults(func=cmd_demo_seed)

    report_parser = commands.add_parser(
        "report", help="figures for advocacy: HTML with charts, and CSV (aggregates only)"
    )
    report_parser.add_argument("--from", dest="start", type=_date, required=True, help="YYYY-MM-DD")
    report_parser.add_argument("--to", dest="end", type=_date, required=True, help="YYYY-MM-DD")
    report_parser.add_argument("--out", help="folder to write (default: var/reports/FROM_TO)")
    report_parser.add_argument("--org", help="one organisation's cases only (default: all)")
    report_parser.set_defaults(func=cmd_report)

    telegram = commands.add_parser("telegram", help="the Telegram channel").add_subparsers(
        dest="telegram_command", required=True
    )
    set_webhook = telegram.add_parser(
        "set-webhook",
        help="register the webhook with TELEGRAM_WEBHOOK_SECRET and the update types read",
    )
    set_webhook.add_argument("--url", help="default: PUBLIC_BASE_URL + /webhooks/telegram")
    set_webhook.set_defaults(func=cmd_telegram_set_webhook)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not getattr(args, "needs_settings", True):
        result: int = args.func(None, args)
        return result
    try:
        settings = Settings.load()
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    try:
        outcome: int = args.func(settings, args)
        return outcome
    except HelplineError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
