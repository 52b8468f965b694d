"""``modelhub serve`` and ``modelhub admin ...``: run the hub and manage its accounts.

Heavy imports (uvicorn, FastAPI, SQLAlchemy) happen inside the command functions, so ``modelhub --help`` and the
client commands stay fast.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from . import admin_teams

logger = logging.getLogger(__name__)


def _add_storage_args(p: argparse.ArgumentParser) -> None:
    """The settings that name a hub, the same for ``serve`` and every ``admin`` command (server/settings.py)."""
    g = p.add_argument_group("which hub (flags, else the MODELHUB_* environment variables)")
    g.add_argument(
        "--data-dir",
        default=None,
        help="directory of the hub: its SQLite database and local blobs (env MODELHUB_DATA_DIR; `serve` defaults"
        " to ./modelhub-data, admin commands need it unless --database-url and --blob-store name everything)",
    )
    g.add_argument(
        "--database-url",
        default=None,
        help="SQLAlchemy URL of the metadata database (env MODELHUB_DATABASE_URL; default: SQLite in the data"
        " dir), e.g. postgresql+psycopg://user:pw@host/modelhub",
    )
    g.add_argument(
        "--blob-store",
        default=None,
        help="where file contents live (env MODELHUB_BLOB_STORE): s3://BUCKET[/PREFIX] (credentials from AWS_*)"
        " or file:///PATH; default DATA_DIR/blobs",
    )
    g.add_argument(
        "--s3-endpoint-url",
        default=None,
        help="URL of an S3-compatible server (env MODELHUB_S3_ENDPOINT_URL or AWS_ENDPOINT_URL; default AWS)",
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
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes sharing the port (use PostgreSQL beyond one: SQLite serializes writers)",
    )
    serve.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    serve.set_defaults(func=cmd_serve)

    admin = subparsers.add_parser("admin", help="manage users, organizations and tokens of a hub")
    admin_sub = admin.add_subparsers(dest="admin_command", metavar="OBJECT")

    init = admin_sub.add_parser("init", help="create a new, empty hub (database at the newest schema)")
    _add_storage_args(init)
    init.set_defaults(func=cmd_init)
    mig = admin_sub.add_parser(
        "migrate", help="upgrade the hub's database to the schema of this version (stop the servers first)"
    )
    _add_storage_args(mig)
    mig.set_defaults(func=cmd_migrate)

    user_p = admin_sub.add_parser("user", help="users")
    user = user_p.add_subparsers(dest="action", metavar="ACTION")
    uc = user.add_parser("create", help="create a user")
    uc.add_argument("name")
    uc.add_argument("--fullname", default="")
    uc.add_argument("--admin", action="store_true", help="may read and write every repo")
    uc.add_argument(
        "--password",
        action="store_true",
        help="set a password for signing in to the web pages: asked on the terminal, or read as one line from"
        " standard input when it is not a terminal",
    )
    _add_storage_args(uc)
    uc.set_defaults(func=cmd_user_create)
    up = user.add_parser(
        "password", help="set or change a user's web sign-in password (asked, or from stdin)"
    )
    up.add_argument("name")
    _add_storage_args(up)
    up.set_defaults(func=cmd_user_password)
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
    oa.add_argument("--role", default="write", choices=("read", "contributor", "write", "admin"))
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
    tc.add_argument(
        "--scope",
        action="append",
        default=[],
        metavar="REPO_OR_NAMESPACE",
        help="fine-grained token: limit it to this repo (alice/model, datasets/alice/data) or namespace (my-org);"
        " repeatable",
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
    admin_teams.register(user, org)  # disable / enable / delete users, org roles and members
    # a group given without its sub-command prints that group's help
    admin.set_defaults(func=_help(admin, {"user": user_p, "org": org_p, "token": token_p}))


def _help(admin: argparse.ArgumentParser, groups: dict[str, argparse.ArgumentParser]):
    """The command function of an incomplete ``admin`` command line: print the help of the group given."""

    def show(args: argparse.Namespace) -> int:
        groups.get(getattr(args, "admin_command", None) or "", admin).print_help(sys.stderr)
        return 2

    return show


class _Refused(Exception):
    """A command that must not go on; the message is the one line printed."""


def _storage(args: argparse.Namespace, *, need_blobs: bool = False, default_data_dir: str | None = None):
    from .settings import ConfigError, resolve_storage

    try:
        return resolve_storage(
            data_dir=args.data_dir,
            database_url=args.database_url,
            blob_store=args.blob_store,
            s3_endpoint_url=args.s3_endpoint_url,
            default_data_dir=default_data_dir,
            need_blobs=need_blobs,
        )
    except ConfigError as exc:
        raise _Refused(str(exc)) from None


def _engine_of_existing_hub(storage):
    """The engine of a database that already holds a hub (never creates one: a typo in --data-dir must not
    make a new empty hub)."""
    from .storage.db import make_engine
    from .storage.migrate import state

    sqlite = storage.sqlite_path
    if storage.data_dir is not None and storage.data_dir.is_file():
        raise _Refused(f"--data-dir {storage.data_dir} is a file, not a hub's directory: check the path.")
    if sqlite is not None and not sqlite.is_file():
        where = storage.data_dir if storage.data_dir is not None else sqlite
        raise _Refused(
            f"No hub in {where} (no {sqlite.name} there). Check --data-dir / MODELHUB_DATA_DIR; to create a new"
            f" hub run `modelhub admin init {storage.cli_flags()}` (or `modelhub serve {storage.cli_flags()}`)."
        )
    engine = make_engine(storage.database_url)
    if state(engine).empty:
        raise _Refused(
            f"The database {_shown(storage.database_url)} holds no hub. To create one run"
            f" `modelhub admin init {storage.cli_flags()}`."
        )
    return engine


def _shown(url: str) -> str:
    """A database URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _sessions(args: argparse.Namespace):
    """Sessions on the hub the arguments name, which must exist and be at the current schema."""
    from sqlalchemy.orm import sessionmaker

    from .storage.db import count_writes
    from .storage.migrate import SchemaError, check_current

    storage = _storage(args)
    engine = _engine_of_existing_hub(storage)
    try:
        check_current(engine, f"modelhub admin migrate {storage.cli_flags()}")
    except SchemaError as exc:
        raise _Refused(str(exc)) from None
    sessions = sessionmaker(engine, expire_on_commit=False)
    count_writes(sessions)
    return sessions


def _refusing(fn):
    """Print a refusal as one ``error:`` line (exit 2) instead of a traceback."""

    def run(args: argparse.Namespace, *rest: object) -> int:
        try:
            return fn(args, *rest)
        except _Refused as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2

    return run


@_refusing
def cmd_init(args: argparse.Namespace) -> int:
    from .storage.db import make_engine
    from .storage.migrate import create_hub

    storage = _storage(args)
    _prepare_data_dir(storage)
    if not create_hub(make_engine(storage.database_url)):
        raise _Refused(f"There already is a hub there ({_shown(storage.database_url)}); nothing changed.")
    print(f"created an empty hub: {_shown(storage.database_url)}", file=sys.stderr)
    print(f"next: modelhub admin user create NAME --admin {storage.cli_flags()}", file=sys.stderr)
    return 0


@_refusing
def cmd_migrate(args: argparse.Namespace) -> int:
    from .storage.migrate import SchemaError, upgrade

    storage = _storage(args)
    try:
        before, after = upgrade(_engine_of_existing_hub(storage))
    except SchemaError as exc:
        raise _Refused(str(exc)) from None
    if before == after:
        print(f"the database is up to date (schema revision {after})", file=sys.stderr)
    else:
        print(f"migrated the database from schema revision {before} to {after}", file=sys.stderr)
    return 0


def _prepare_data_dir(storage) -> None:
    """Create the data dir if the hub keeps anything in it; one clear line if it is a file or not writable."""
    path = storage.data_dir
    if path is None or not (storage.sqlite_path is not None or storage.blob_store is None):
        return
    if path.exists() and not path.is_dir():
        raise _Refused(f"--data-dir {path} is a file, not a directory: name a directory (new or existing).")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise _Refused(
            f"--data-dir {path} cannot be written ({exc.strerror or exc}): choose a directory this user may write."
        ) from None


@_refusing
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


def _read_password() -> str:
    """A new password from the terminal (asked twice) or one line of standard input."""
    import getpass

    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat the password: ") != first:
        raise SystemExit("error: the passwords differ; nothing was changed.")
    return first


def cmd_user_create(args: argparse.Namespace) -> int:
    from .domain.accounts import create_user

    password = _read_password() if args.password else None

    def fn(db):
        from .domain.logins import set_password

        create_user(db, args.name, fullname=args.fullname, is_admin=args.admin)
        if password is not None:
            set_password(db, args.name, password)
        print(f"created user {args.name!r}{' with a password' if password else ''}", file=sys.stderr)

    return _run_admin(args, fn)


def cmd_user_password(args: argparse.Namespace) -> int:
    from .domain.logins import set_password

    password = _read_password()

    def fn(db):
        set_password(db, args.name, password)
        print(f"set the password of {args.name!r}", file=sys.stderr)

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

    return _run_admin(args, lambda db: add_member(db, args.org, args.user, args.role))


@_refusing
def cmd_gc(args: argparse.Namespace) -> int:
    from .domain.hub import HubService
    from .storage.blobs import open_blob_store

    sessions = _sessions(args)
    storage = _storage(args, need_blobs=True)
    blobs = open_blob_store(storage.blob_store, storage.data_dir, s3_endpoint_url=storage.s3_endpoint_url)
    service = HubService(sessions, blobs)
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
    from .domain.accounts import create_token, parse_duration, parse_scope

    def fn(db):
        expires_in = parse_duration(args.expires_in) if args.expires_in is not None else None
        scopes = [parse_scope(s) for s in args.scope]
        return create_token(
            db, args.user, role=args.role, name=args.name, expires_in=expires_in, scopes=scopes
        )

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


FIRST_RUN_TOKEN_FILE = "first-run-token"


def _first_run(sessions, user: str, url: str, storage) -> None:
    """No user yet: create an admin user and hand out a one-time write token (never an anonymous write path).

    The token goes to the terminal, or (output not a terminal: a log file, a service manager) to a file only
    this user can read in the data dir, never into a log."""
    from .domain.accounts import count_users, create_token, create_user

    with sessions() as db:
        if count_users(db) > 0:
            return
        create_user(db, user, is_admin=True)
        shown = sys.stdout.isatty() or storage.data_dir is not None
        token = create_token(db, user, role="write", name="first-run") if shown else None
        db.commit()
    flags = storage.cli_flags()
    more = (
        f"  More users/tokens:\n      modelhub admin user create NAME {flags}\n"
        f"      modelhub admin token create NAME --role write {flags}\n"
    )
    head = f"\nmodelhub: first start with an empty database: created admin user {user!r}.\n"
    if token is None:
        print(
            f"{head}  No token was created (no terminal and no data dir to put it in); make one with:\n"
            f"      modelhub admin token create {user} --role write {flags}\n",
            flush=True,
        )
    elif sys.stdout.isatty():
        print(
            f"{head}  Its write token (shown only this once, keep it):\n\n      {token}\n\n"
            f"  Use it:  export HF_ENDPOINT={url} HF_TOKEN={token}\n{more}",
            flush=True,
        )
    else:
        path = storage.data_dir / FIRST_RUN_TOKEN_FILE
        storage.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # PostgreSQL + S3: maybe not made yet
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(token + "\n")
        print(
            f"{head}  Its write token is in {path} (readable by this user only; the output is not a terminal,"
            f" so it is not printed). Read it, keep it elsewhere, delete the file:\n"
            f"      export HF_ENDPOINT={url} HF_TOKEN=$(cat {path}) && rm {path}\n{more}",
            flush=True,
        )


@_refusing
def cmd_serve(args: argparse.Namespace) -> int:
    from .serving import PortRefused, Supervisor, listening_sockets, serve
    from .settings import DEFAULT_SERVE_DATA_DIR, ServerSettings
    from .storage.db import open_database
    from .storage.migrate import SchemaError, check_current, create_hub

    if args.workers < 1:
        raise _Refused(f"--workers {args.workers}: expected 1 or more.")
    storage = _storage(args, need_blobs=True, default_data_dir=DEFAULT_SERVE_DATA_DIR)
    try:
        sockets = listening_sockets(args.host, args.port, args.workers)
    except PortRefused as exc:
        raise _Refused(str(exc)) from None
    _prepare_data_dir(storage)
    url = args.public_url or f"http://{args.host}:{args.port}"
    sessions = open_database(storage.database_url)
    engine = sessions.kw["bind"]
    if create_hub(engine):
        logger.info("created a new hub: %s", _shown(storage.database_url))
    try:
        check_current(engine, f"modelhub admin migrate {storage.cli_flags()}")
    except SchemaError as exc:
        raise _Refused(str(exc)) from None
    _first_run(sessions, args.init_user, url, storage)
    engine.dispose()
    settings = ServerSettings(
        data_dir=storage.data_dir,
        database_url=storage.database_url,
        public_url=args.public_url,
        upload_mode=args.upload_mode,
        blob_store=storage.blob_store,
        s3_endpoint_url=storage.s3_endpoint_url,
        page_size=max(1, args.page_size),
    )
    logging.getLogger("modelhub").setLevel(args.log_level.upper())
    logger.info(
        "serving %s (blobs: %s) on http://%s:%d with %d process(es)",
        _shown(storage.database_url),
        storage.blob_store or storage.data_dir,
        args.host,
        args.port,
        args.workers,
    )
    common: dict = dict(
        host=args.host,
        port=args.port,
        loop="auto",
        http="auto",
        access_log=False,  # our middleware logs one line per request, without tokens
        log_level=args.log_level,
        timeout_graceful_shutdown=30,
        server_header=False,
    )
    if args.workers > 1:
        # each worker builds its app from these (create_app()), on a socket of its own (serving.py says why)
        env = {**settings.to_env(), "MODELHUB_LOG_LEVEL": args.log_level}
        return Supervisor(sockets, args.workers, env, common).run()
    from .app import create_app

    serve(create_app(settings), sockets[0], common)
    return 0
