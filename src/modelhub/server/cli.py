"""``modelhub serve`` and ``modelhub admin ...``: run the hub and manage its accounts.

Heavy imports (uvicorn, FastAPI, SQLAlchemy) happen inside the command functions, so ``modelhub --help`` and the
client commands stay fast.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

DEFAULT_DATA_DIR = "modelhub-data"


def _add_storage_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        default=os.environ.get("MODELHUB_DATA_DIR", DEFAULT_DATA_DIR),
        help="directory for the blobs and the default SQLite database (env MODELHUB_DATA_DIR; default ./%(default)s)",
    )
    p.add_argument(
        "--database-url",
        default=os.environ.get("MODELHUB_DATABASE_URL"),
        help="SQLAlchemy URL of the metadata database (env MODELHUB_DATABASE_URL; default: SQLite in the data dir),"
        " e.g. postgresql+psycopg://user:pw@host/modelhub",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``serve`` and ``admin`` to the ``modelhub`` command line."""
    serve = subparsers.add_parser(
        "serve", help="run the hub server", description="Run the modelhub hub server."
    )
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default %(default)s)")
    serve.add_argument("--port", type=int, default=8000, help="port (default %(default)s)")
    _add_storage_args(serve)
    serve.add_argument("--public-url", default=None, help="base URL clients use, if behind a proxy")
    serve.add_argument(
        "--upload-mode",
        choices=("auto", "lfs", "regular"),
        default="auto",
        help="what preupload answers: auto (= lfs) = 'lfs' for large/binary files, which Xet clients upload"
        " through Xet and others through LFS; regular = every file inline in the commit; see docs/server.md"
        " (default %(default)s)",
    )
    serve.add_argument(
        "--init-user",
        default="admin",
        help="on first start with an empty database, create this admin user and print a write token"
        " (default %(default)s)",
    )
    serve.add_argument(
        "--page-size",
        type=int,
        default=1000,
        help="entries per page of tree/commit/repo listings (default %(default)s)",
    )
    serve.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    serve.set_defaults(func=cmd_serve)

    admin = subparsers.add_parser("admin", help="manage users, organizations and tokens of a hub")
    admin_sub = admin.add_subparsers(dest="admin_command", metavar="OBJECT")

    user_p = admin_sub.add_parser("user", help="users")
    user = user_p.add_subparsers(dest="action", metavar="ACTION")
    uc = user.add_parser("create", help="create a user")
    uc.add_argument("name")
    uc.add_argument("--fullname", default="")
    uc.add_argument("--admin", action="store_true", help="may read and write every repo")
    _add_storage_args(uc)
    uc.set_defaults(func=cmd_user_create)
    ul = user.add_parser("list", help="list users and organizations")
    _add_storage_args(ul)
    ul.set_defaults(func=cmd_user_list)

    org_p = admin_sub.add_parser("org", help="organizations")
    org = org_p.add_subparsers(dest="action", metavar="ACTION")
    oc = org.add_parser("create", help="create an organization")
    oc.add_argument("name")
    oc.add_argument("--member", action="append", default=[], help="a member user (repeatable)")
    _add_storage_args(oc)
    oc.set_defaults(func=cmd_org_create)
    oa = org.add_parser("add-member", help="add a user to an organization")
    oa.add_argument("org")
    oa.add_argument("user")
    _add_storage_args(oa)
    oa.set_defaults(func=cmd_org_add_member)

    gc = admin_sub.add_parser("gc", help="delete stored files that no commit references any more")
    gc.add_argument(
        "--min-age-hours", type=float, default=24.0, help="spare younger files (default %(default)s)"
    )
    gc.add_argument("--dry-run", action="store_true", help="only report what would be deleted")
    _add_storage_args(gc)
    gc.set_defaults(func=cmd_gc)

    token_p = admin_sub.add_parser("token", help="access tokens")
    token = token_p.add_subparsers(dest="action", metavar="ACTION")
    tc = token.add_parser("create", help="create a token for a user and print it (shown only once)")
    tc.add_argument("user")
    tc.add_argument("--role", choices=("read", "write"), default="read")
    tc.add_argument("--name", default=None, help="a label for the token (shown by whoami)")
    tc.add_argument(
        "--expires-in",
        default=None,
        metavar="DAYS",
        help="the token stops working after this long: days (30, 0.5) or with a unit (30d, 12h, 90m);"
        " default: never",
    )
    _add_storage_args(tc)
    tc.set_defaults(func=cmd_token_create)
    tl = token.add_parser(
        "list", help="list a user's tokens: id, name, role, created, last used, expires (never the secret)"
    )
    tl.add_argument("user")
    _add_storage_args(tl)
    tl.set_defaults(func=cmd_token_list)
    tr = token.add_parser("revoke", help="delete a token (effective at once, also for running servers)")
    tr.add_argument(
        "token", metavar="TOKEN_OR_ID", help="the clear-text token (hf_...) or its id from `token list`"
    )
    _add_storage_args(tr)
    tr.set_defaults(func=cmd_token_revoke)
    # a group given without its sub-command prints that group's help
    admin.set_defaults(func=_help(admin, {"user": user_p, "org": org_p, "token": token_p}))


def _help(admin: argparse.ArgumentParser, groups: dict[str, argparse.ArgumentParser]):
    """The command function of an incomplete ``admin`` command line: print the help of the group given."""

    def show(args: argparse.Namespace) -> int:
        groups.get(getattr(args, "admin_command", None) or "", admin).print_help(sys.stderr)
        return 2

    return show


def _sessions(args: argparse.Namespace):
    from .storage.db import default_database_url, open_database

    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    return open_database(args.database_url or default_database_url(data_dir))


def _run_admin(args: argparse.Namespace, fn) -> int:
    from .domain.accounts import AccountError

    sessions = _sessions(args)
    with sessions() as db:
        try:
            result = fn(db)
            db.commit()
        except AccountError as exc:
            db.rollback()
            print(f"error: {exc}", file=sys.stderr)
            return 1
    if result is not None:
        print(result)
    return 0


def cmd_user_create(args: argparse.Namespace) -> int:
    from .domain.accounts import create_user

    def fn(db):
        create_user(db, args.name, fullname=args.fullname, is_admin=args.admin)
        print(f"created user {args.name!r}", file=sys.stderr)

    return _run_admin(args, fn)


def cmd_user_list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from .storage.db import Account

    def fn(db):
        rows = db.scalars(select(Account).order_by(Account.name)).all()
        lines = ["\t".join([a.kind, a.name] + (["admin"] if a.is_admin else [])) for a in rows]
        return "\n".join(lines) or None

    return _run_admin(args, fn)


def cmd_org_create(args: argparse.Namespace) -> int:
    from .domain.accounts import create_org

    def fn(db):
        create_org(db, args.name, args.member)
        print(f"created organization {args.name!r} with members {args.member}", file=sys.stderr)

    return _run_admin(args, fn)


def cmd_org_add_member(args: argparse.Namespace) -> int:
    from .domain.accounts import add_member

    return _run_admin(args, lambda db: add_member(db, args.org, args.user))


def cmd_gc(args: argparse.Namespace) -> int:
    from .domain.hub import HubService
    from .storage.blobs import open_blob_store

    blobs = open_blob_store(getattr(args, "blob_store", None), Path(args.data_dir))
    service = HubService(_sessions(args), blobs)
    r = service.collect_garbage(args.min_age_hours * 3600, dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    print(f"{verb} {r.blobs} unreferenced files ({r.blob_bytes / 1e6:.1f} MB)")
    print(f"{verb} {r.xet_files} unreferenced Xet files, {r.xorbs} xorbs and {r.shards} shards")
    if not args.dry_run:
        print(
            f"removed {r.partial_uploads} partial uploads of stopped server processes"
            f" ({r.partial_bytes / 1e6:.1f} MB) and {r.grants} expired upload grants"
        )
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    """Print the new token alone on stdout (scripts capture it); it is stored hashed and never shown again."""
    from .domain.accounts import create_token, parse_duration

    def fn(db):
        expires_in = parse_duration(args.expires_in) if args.expires_in is not None else None
        return create_token(db, args.user, role=args.role, name=args.name, expires_in=expires_in)

    return _run_admin(args, fn)


def cmd_token_list(args: argparse.Namespace) -> int:
    """One tab-separated line per token after a header line; the secret (and its hash) are never printed."""
    from .domain.accounts import list_tokens
    from .storage.db import utcnow

    def when(ts) -> str:
        return ts.strftime("%Y-%m-%dT%H:%M:%SZ") if ts is not None else "never"

    def fn(db):
        now = utcnow()
        lines = ["id\tname\trole\tcreated\tlast_used\texpires"]
        for t in list_tokens(db, args.user):
            expires = when(t.expires_at)
            if t.expires_at is not None and t.expires_at <= now:
                expires += " (expired)"
            lines.append(
                f"{t.id}\t{t.name}\t{t.role}\t{when(t.created_at)}\t{when(t.last_used_at)}\t{expires}"
            )
        return "\n".join(lines)

    return _run_admin(args, fn)


def cmd_token_revoke(args: argparse.Namespace) -> int:
    from .domain.accounts import revoke_token

    def fn(db):
        row, owner = revoke_token(db, args.token)
        print(f"revoked token {row.id} ({row.name!r}) of user {owner!r}", file=sys.stderr)

    return _run_admin(args, fn)


def _first_run(sessions, user: str, url: str) -> None:
    """Empty database: create an admin user and print a one-time write token (never an anonymous write path)."""
    from .domain.accounts import count_users, create_token, create_user

    with sessions() as db:
        if count_users(db) > 0:
            return
        create_user(db, user, is_admin=True)
        token = create_token(db, user, role="write", name="first-run")
        db.commit()
    banner = (
        f"\nmodelhub: first start with an empty database: created admin user {user!r}.\n"
        f"  Its write token (shown only this once, keep it):\n\n      {token}\n\n"
        f"  Use it:  export HF_ENDPOINT={url} HF_TOKEN={token}\n"
        f"  More users/tokens: modelhub admin user create NAME; modelhub admin token create NAME --role write\n"
    )
    print(banner, flush=True)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import create_app
    from .settings import ServerSettings
    from .storage.db import default_database_url, open_database

    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    db_url = args.database_url or default_database_url(data_dir)
    url = args.public_url or f"http://{args.host}:{args.port}"
    _first_run(open_database(db_url), args.init_user, url)
    settings = ServerSettings(
        data_dir=data_dir,
        database_url=db_url,
        public_url=args.public_url,
        upload_mode=args.upload_mode,
        page_size=max(1, args.page_size),
    )
    logging.getLogger("modelhub").setLevel(args.log_level.upper())
    listener = _log_off_the_event_loop()
    app = create_app(settings)
    import gc

    gc.collect()
    gc.freeze()  # startup objects never need scanning again: shorter GC pauses on the request path
    # The event loop and the handler threads share the GIL: a thread that needs it waits up to the switch
    # interval while another runs Python code (5 ms by default). 1 ms keeps small requests quick while big
    # transfers stream (benchmarks/event_loop.py), for a throughput cost too small to measure.
    sys.setswitchinterval(0.001)
    logger.info(
        "serving %s (data in %s) on http://%s:%d", db_url.split("@")[-1], data_dir, args.host, args.port
    )
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        loop="auto",
        http="auto",
        access_log=False,  # our middleware logs one line per request, without tokens
        log_level=args.log_level,
        timeout_graceful_shutdown=30,
        server_header=False,
    )
    try:
        uvicorn.Server(config).run()
    finally:
        if listener is not None:
            listener.stop()
    return 0


def _log_off_the_event_loop():
    """Route log records through a queue to a background thread, so that a slow disk (log file writes throttled
    by the kernel while other processes write a lot) never stalls request handling. Also skip the per-record
    caller/thread/process lookups (the logging HOWTO's "Optimization" section): our lines do not show them."""
    import logging.handlers
    import queue

    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False

    root = logging.getLogger()
    handlers = list(root.handlers)
    if not handlers:
        return None
    q: queue.SimpleQueue = queue.SimpleQueue()
    listener = logging.handlers.QueueListener(q, *handlers, respect_handler_level=True)
    for hd in handlers:
        root.removeHandler(hd)
    root.addHandler(logging.handlers.QueueHandler(q))
    listener.start()
    return listener
