"""Metadata schema (SQLAlchemy 2) and engine setup.

The schema uses portable types only (no SQLite-specific features), so ``--database-url postgresql+psycopg://...``
works with the same tables. SQLite is the embedded default, in WAL mode with a busy timeout so that readers never
block writers and concurrent writers queue instead of failing.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, ORMExecuteState, Session, mapped_column, sessionmaker


def utcnow() -> dt.datetime:
    """Naive UTC timestamp (portable across SQLite and PostgreSQL ``timestamp without time zone``)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def iso(ts: dt.datetime | None) -> str | None:
    """The Hub's date format: UTC ISO-8601 with milliseconds and a trailing ``Z``."""
    if ts is None:
        return None
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


class Base(DeclarativeBase):
    pass


class Account(Base):
    """A user or an organization (``kind``); both own repos under their ``name``."""

    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(96), unique=True, nullable=False)
    kind: Mapped[str] = mapped_column(String(8), nullable=False, default="user")
    fullname: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    is_admin: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    # Argon2id hash (domain/logins.py) for signing in to the web pages; None: the account cannot sign in.
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # A disabled user's tokens are refused at once (nullable: added to older databases by migration 0003).
    disabled: Mapped[bool | None] = mapped_column(Boolean, nullable=True, default=False)


class LoginSession(Base):
    """A signed-in browser: the cookie's SHA-256 (never the cookie itself) and the session's CSRF token."""

    __tablename__ = "login_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    csrf: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)


class SignInFailure(Base):
    """Failed password sign-ins counted under one key (a hash of an address, an account, or both) since
    ``window_start`` (domain/sign_in_limits.py)."""

    __tablename__ = "sign_in_failures"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, nullable=False)
    window_start: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, index=True)


class Membership(Base):
    __tablename__ = "memberships"
    org_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), nullable=False, default="write")  # accounts.ORG_ROLES


class Token(Base):
    """An access token; only its SHA-256 is stored, the clear text is shown once at creation."""

    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    role: Mapped[str] = mapped_column(String(8), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    # Both nullable: databases older than migration 0001 gain them through add_missing_columns. No expiry: None.
    # last_used_at is refreshed at most about once a minute (see accounts.TokenCache).
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    # Fine-grained tokens: JSON list of accounts.Scope (repos / namespaces the role applies to); None: unlimited.
    scopes_json: Mapped[str | None] = mapped_column(Text, nullable=True)


class Repo(Base):
    """A repo; ``namespace/name`` is unique per type ignoring case (``uq_repo_ci``), and every lookup ignores case
    and answers the stored (canonical) spelling."""

    __tablename__ = "repos"
    __table_args__ = (
        UniqueConstraint("type", "namespace", "name", name="uq_repo"),
        Index("uq_repo_ci", "type", func.lower(text("namespace")), func.lower(text("name")), unique=True),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(16), nullable=False)
    namespace: Mapped[str] = mapped_column(String(96), nullable=False)
    name: Mapped[str] = mapped_column(String(96), nullable=False)
    private: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    gated: Mapped[str] = mapped_column(String(8), nullable=False, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    last_modified: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    next_num: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    # README front matter of the default branch head, JSON text, for listing/search without reading blobs.
    card_json: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    # The user who created it (org "contributor" members write the repos they created); None for older repos.
    created_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Metadata derived from the default branch head (domain/metadata.py: library, pipeline tag, tags), JSON text.
    meta_json: Mapped[str | None] = mapped_column(Text, nullable=True)

    @property
    def repo_id(self) -> str:
        return f"{self.namespace}/{self.name}"


class Ref(Base):
    """``refs/heads/<b>``, ``refs/tags/<t>`` or ``refs/pr/<n>`` pointing at a commit; moved by compare-and-swap."""

    __tablename__ = "refs"
    repo_pk: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(300), primary_key=True)
    commit_id: Mapped[str] = mapped_column(String(40), nullable=False)


class Commit(Base):
    __tablename__ = "commits"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    repo_pk: Mapped[int] = mapped_column(
        ForeignKey("repos.id", ondelete="CASCADE"), nullable=False, index=True
    )
    tree_id: Mapped[str] = mapped_column(String(40), nullable=False)
    parents: Mapped[str] = mapped_column(String(200), nullable=False, default="")  # space-separated ids
    author: Mapped[str] = mapped_column(String(96), nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class Tree(Base):
    """A full file tree (zlib-compressed canonical JSON), addressed by the SHA-1 of its JSON; shared by commits."""

    __tablename__ = "trees"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class BlobMeta(Base):
    """Facts about a stored blob that are costly to recompute (git blob SHA-1 of the content)."""

    __tablename__ = "blob_meta"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    git_sha1: Mapped[str | None] = mapped_column(String(40), nullable=True)


class RepoObject(Base):
    """A content object (by SHA-256) that some commit of a repo references.

    Blobs are stored once for the whole server, so this table is what makes an object *belong* to a repo: the LFS
    API hands out an object only through a repo that references it, and a commit may reference an object without
    sending its bytes only if the committer can read a repo that references it (see docs/security.md)."""

    __tablename__ = "repo_objects"
    repo_pk: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class UploadGrant(Base):
    """An object whose bytes a writer of the repo uploaded (verified) and may now commit without sending again."""

    __tablename__ = "upload_grants"
    repo_pk: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class XetXorb(Base):
    """A verified xorb (Xet hash string form): its chunk section is the blob ``blob_sha256`` of the blob store,
    named by the xorb's own hash (earlier versions named it by the section's SHA-256; the column says which,
    so both read alike); ``chunk_index`` packs per chunk its hash and cumulative record / uncompressed ends
    (``xet/xorb.ChunkIndex``)."""

    __tablename__ = "xet_xorbs"
    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    blob_sha256: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    num_chunks: Mapped[int] = mapped_column(Integer, nullable=False)
    chunk_index: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class XetFile(Base):
    """A file registered by a Xet shard, verified (file hash, terms, SHA-256): the same content object as an LFS
    blob of that SHA-256 to the rest of the hub. ``terms`` packs (xorb hash, first chunk, end chunk, bytes)."""

    __tablename__ = "xet_files"
    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    terms: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    shard_sha256: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class XetFileXorb(Base):
    """Which xorbs a Xet file's terms use (garbage collection and the scope of dedup answers)."""

    __tablename__ = "xet_file_xorbs"
    file_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    xorb_hash: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class XetDedupChunk(Base):
    """A chunk the client may ask about in a global-dedup query (the first of a file, or one whose hash is a
    multiple of 1024 in its last word), and a xorb holding it."""

    __tablename__ = "xet_dedup_chunks"
    chunk_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    xorb_hash: Mapped[str] = mapped_column(String(64), primary_key=True)


class XetShard(Base):
    """An uploaded shard (kept as blob ``sha256``), the repo whose write token sent it, and when."""

    __tablename__ = "xet_shards"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    repo_pk: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class Discussion(Base):
    __tablename__ = "discussions"
    __table_args__ = (UniqueConstraint("repo_pk", "num", name="uq_discussion"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    repo_pk: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), nullable=False)
    num: Mapped[int] = mapped_column(Integer, nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    author: Mapped[str] = mapped_column(String(96), nullable=False)
    is_pr: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    status: Mapped[str] = mapped_column(String(8), nullable=False, default="open")
    target_ref: Mapped[str] = mapped_column(String(300), nullable=False, default="refs/heads/main")
    merge_commit: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class DiscussionEvent(Base):
    __tablename__ = "discussion_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    discussion_id: Mapped[int] = mapped_column(
        ForeignKey("discussions.id", ondelete="CASCADE"), nullable=False
    )
    type: Mapped[str] = mapped_column(String(16), nullable=False)
    author: Mapped[str] = mapped_column(String(96), nullable=False)
    data_json: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class HubState(Base):
    """One row (``id = 1``): ``generation`` grows with every committed write to the database, by any process
    (``count_writes``), so each process can tell whether its caches still hold (``caches.HotCache.sync``)."""

    __tablename__ = "hub_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    generation: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class AccessRequest(Base):
    """A user's request for the files of a gated repo: pending, accepted or rejected (one per user and repo)."""

    __tablename__ = "access_requests"
    __table_args__ = (UniqueConstraint("repo_pk", "user_id", name="uq_access_request"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    repo_pk: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False)
    status: Mapped[str] = mapped_column(String(8), nullable=False, default="pending")
    fields_json: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    reason: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class Like(Base):
    __tablename__ = "likes"
    user_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    repo_pk: Mapped[int] = mapped_column(
        ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class RepoDownloads(Base):
    """Downloads of a repo per UTC day (domain/downloads.py adds the counts of each process in batches)."""

    __tablename__ = "repo_downloads"
    repo_pk: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class Setting(Base):
    """Server-wide key/value settings (e.g. the secret that signs LFS upload URLs)."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)


def default_database_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'modelhub.sqlite3').resolve()}"


POOL_SIZE_ENV = "MODELHUB_DB_POOL_SIZE"


def pool_size() -> int:
    """Connections each process keeps open: by default one per request-handler thread (anyio's 40), because a
    connection beyond the pool is closed when returned and opened again by the next request, which costs more
    than the request itself under load (a new PostgreSQL backend, SQLite's pragmas). Lower it (docs/deploy.md)
    when processes x (size + 16) would pass PostgreSQL's ``max_connections``."""
    raw = os.environ.get(POOL_SIZE_ENV, "40")
    try:
        size = int(raw)
    except ValueError:
        raise ValueError(
            f"{POOL_SIZE_ENV}={raw!r}: expected a whole number of connections, e.g. 40."
        ) from None
    if size < 1:
        raise ValueError(f"{POOL_SIZE_ENV}={raw!r}: expected at least 1 connection.")
    return size


def make_engine(url: str) -> Engine:
    """Create the engine; for SQLite enable WAL, a busy timeout and foreign keys on every connection."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size(),
            max_overflow=16,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:  # a DB-API connection (sqlite3's)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    # No pool_pre_ping: it costs a round trip on every checkout, and every request checks a connection out (token,
    # write generation). Connections are recycled instead, and a request that meets a dropped one gets 503 and
    # its retry a fresh connection (the pool invalidates connections that fail).
    return create_engine(url, pool_recycle=300, pool_size=pool_size(), max_overflow=16)


def open_database(url: str) -> sessionmaker:
    """Engine + a session factory whose writing transactions bump ``hub_state.generation``.

    It neither creates nor upgrades tables: ``storage.migrate`` does that (``create_hub`` for a new hub,
    ``upgrade`` for ``modelhub admin migrate``), and ``check_current`` refuses a database that is behind."""
    sessions = sessionmaker(make_engine(url), expire_on_commit=False)
    count_writes(sessions)
    return sessions


_BUMP = update(HubState).where(HubState.id == 1).values(generation=HubState.generation + 1)
GENERATION = select(HubState.generation).where(HubState.id == 1)  # the write generation, one row


def count_writes(sessions: sessionmaker) -> None:
    """A session that wrote anything (a flush or an INSERT/UPDATE/DELETE statement) bumps the generation in the
    same transaction, so the bump is visible exactly when the write is, to every process."""

    @event.listens_for(sessions, "after_flush")
    def _flushed(session: Session, _ctx: Any) -> None:
        session.info["wrote"] = True

    @event.listens_for(sessions, "do_orm_execute")
    def _executed(state: ORMExecuteState) -> None:
        if state.is_insert or state.is_update or state.is_delete:
            state.session.info["wrote"] = True

    @event.listens_for(sessions, "before_commit")
    def _bump(session: Session) -> None:
        if session.info.pop("wrote", False):
            session.execute(_BUMP)
            session.info.pop("wrote", None)  # the bump itself is a write

    @event.listens_for(sessions, "after_rollback")
    def _forget(session: Session) -> None:
        session.info.pop("wrote", None)


@contextmanager
def single_read(engine: Engine) -> Iterator[Connection]:
    """A connection for one read-only statement, in autocommit: no BEGIN before it and no ROLLBACK when the
    connection goes back to the pool, so one round trip to PostgreSQL instead of three (the hot paths run a few
    of these per request: token, write generation, session)."""
    with engine.connect() as conn:
        yield conn.execution_options(isolation_level="AUTOCOMMIT")


def read_generation(engine: Engine) -> int:
    """The database's write generation (one primary-key read)."""
    with single_read(engine) as conn:
        return conn.execute(GENERATION).scalar_one_or_none() or 0


def add_missing_columns(engine: Engine, columns: dict[str, tuple[str, ...]]) -> None:
    """Add the nullable ``columns`` (table name -> column names) that a database created by an earlier version
    lacks (``create_all`` creates missing tables, never missing columns), with ``ALTER TABLE ... ADD COLUMN``
    (SQLite and PostgreSQL).

    Only for databases older than Alembic revision 0001 (``storage.migrate`` runs it before stamping 0001, naming
    the columns 0001 has): every later change is a migration. Safe when several processes start at once."""
    existing_tables = set(inspect(engine).get_table_names())
    quote = engine.dialect.identifier_preparer.quote
    for table in Base.metadata.sorted_tables:
        if table.name not in existing_tables or table.name not in columns:
            continue
        have = {c["name"] for c in inspect(engine).get_columns(table.name)}
        for column in table.columns:
            if column.name in have or column.name not in columns[table.name]:
                continue
            if not column.nullable:
                raise RuntimeError(
                    f"The database's table {table.name!r} lacks the NOT NULL column {column.name!r}, which cannot"
                    " be added automatically: migrate the database by hand (or start from an empty one)."
                )
            if_not_exists = "IF NOT EXISTS " if engine.dialect.name == "postgresql" else ""
            ddl = (
                f"ALTER TABLE {quote(table.name)} ADD COLUMN {if_not_exists}{quote(column.name)}"
                f" {column.type.compile(dialect=engine.dialect)}"
            )
            try:
                with engine.begin() as conn:
                    conn.execute(text(ddl))
            except Exception:
                # another process may have added it in the meantime (SQLite has no IF NOT EXISTS here)
                if column.name not in {c["name"] for c in inspect(engine).get_columns(table.name)}:
                    raise
