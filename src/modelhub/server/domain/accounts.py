"""Users, organizations and access tokens (stored hashed), and the permission rules built on them."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import queue
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from ..storage.db import Account, Membership, Token, utcnow

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.\-]{0,94}[A-Za-z0-9])?$")
ROLES = ("read", "write")
# First URL segments the server routes itself (the API and the web pages): an account of that name would shadow them.
RESERVED_NAMES = frozenset(
    {"api", "datasets", "spaces", "models", "docs", "openapi.json", "lfs-upload", "lfs-objects"}
    | {"login", "logout", "new", "settings", "search", "redoc", "static", "join", "organizations"}
)


class AccountError(ValueError):
    """Bad input to an account operation (the message says what and what to do)."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token_value() -> str:
    return "hf_" + secrets.token_urlsafe(30).replace("-", "a").replace("_", "b")


def check_account_name(name: str) -> str:
    if name in RESERVED_NAMES:
        raise AccountError(f"The name {name!r} is reserved by the server's URL scheme; choose another.")
    if not _NAME.match(name or "") or "--" in name or ".." in name:
        raise AccountError(
            f"Invalid account name {name!r}: use 1-96 letters, digits, '_', '-' or '.', starting and ending with"
            " a letter or digit, without '--' or '..'."
        )
    return name


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user and the role of the token used.

    Organization membership is looked up when needed (``orgs``, ``member_of``) rather than cached with the
    token, so that adding a member takes effect immediately."""

    user_id: int
    name: str
    role: str
    token_name: str
    is_admin: bool = False
    sessions: sessionmaker | None = field(default=None, compare=False, repr=False)
    token_id: int = 0  # the token row (CAS tokens name it, so that revoking the hub token stops them)

    @property
    def can_write(self) -> bool:
        return self.role == "write"

    @property
    def orgs(self) -> frozenset[str]:
        if self.sessions is None:
            return frozenset()
        with self.sessions.kw["bind"].connect() as conn:  # Core: cheaper than a Session, read-only
            return frozenset(org_names(conn, self.user_id))

    def member_of(self, namespace: str) -> bool:
        return self.is_admin or namespace == self.name or namespace in self.orgs


class ReadableRepo(Protocol):
    """What the read rule looks at: a ``Repo`` row, or the session-free ``RepoSnap`` cached from one."""

    @property
    def namespace(self) -> str: ...

    @property
    def private(self) -> bool: ...


def can_read(principal: Principal | None, repo: ReadableRepo) -> bool:
    if not repo.private:
        return True
    return principal is not None and principal.member_of(repo.namespace)


def can_write_namespace(principal: Principal | None, namespace: str) -> bool:
    return principal is not None and principal.can_write and principal.member_of(namespace)


# --- account operations (used by the admin CLI, the first-run path and the tests) ---------------------------


def create_user(db: Session, name: str, *, fullname: str = "", is_admin: bool = False) -> Account:
    check_account_name(name)
    if db.scalar(select(Account).where(Account.name == name)) is not None:
        raise AccountError(
            f"The name {name!r} is already taken (by a user or an organization); choose another."
        )
    acc = Account(name=name, kind="user", fullname=fullname or name, is_admin=is_admin)
    db.add(acc)
    db.flush()
    return acc


def create_org(db: Session, name: str, members: list[str] | tuple[str, ...] = ()) -> Account:
    check_account_name(name)
    if db.scalar(select(Account).where(Account.name == name)) is not None:
        raise AccountError(
            f"The name {name!r} is already taken (by a user or an organization); choose another."
        )
    org = Account(name=name, kind="org", fullname=name)
    db.add(org)
    db.flush()
    for member in members:
        add_member(db, name, member)
    return org


def add_member(db: Session, org_name: str, user_name: str, role: str = "write") -> None:
    org = db.scalar(select(Account).where(Account.name == org_name, Account.kind == "org"))
    if org is None:
        raise AccountError(f"No organization named {org_name!r}; create it with `modelhub admin org create`.")
    user = db.scalar(select(Account).where(Account.name == user_name, Account.kind == "user"))
    if user is None:
        raise AccountError(f"No user named {user_name!r}; create it first with `modelhub admin user create`.")
    if db.get(Membership, (org.id, user.id)) is None:
        db.add(Membership(org_id=org.id, user_id=user.id, role=role))
        db.flush()


def create_token(
    db: Session,
    user_name: str,
    *,
    role: str = "write",
    name: str | None = None,
    expires_in: dt.timedelta | None = None,
) -> str:
    """Create a token for ``user_name`` and return its clear text (the only time it is available).

    With ``expires_in`` the token stops working that long after its creation (None: it never expires)."""
    if role not in ROLES:
        raise AccountError(f"Invalid token role {role!r}: expected 'read' or 'write'.")
    if expires_in is not None and expires_in <= dt.timedelta(0):
        raise AccountError("A token's lifetime (--expires-in) must be positive.")
    user = _user(db, user_name)
    value = new_token_value()
    now = utcnow()
    db.add(
        Token(
            user_id=user.id,
            name=name or f"{role}-token",
            role=role,
            token_hash=hash_token(value),
            created_at=now,
            expires_at=now + expires_in if expires_in is not None else None,
        )
    )
    db.flush()
    return value


_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([dhm]?)\s*$", re.IGNORECASE)
_DURATION_UNITS = {"": 86400.0, "d": 86400.0, "h": 3600.0, "m": 60.0}


def parse_duration(text: str) -> dt.timedelta:
    """``30`` or ``0.5`` (days), ``30d``, ``12h``, ``90m`` -> a positive timedelta; AccountError otherwise."""
    match = _DURATION.match(text or "")
    seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2).lower()] if match else 0.0
    if not seconds > 0:
        raise AccountError(
            f"Invalid token lifetime {text!r}: give a positive number of days (e.g. 30 or 0.5),"
            " or a number with a unit: 30d, 12h, 90m."
        )
    return dt.timedelta(seconds=seconds)


def _user(db: Session, user_name: str) -> Account:
    user = db.scalar(select(Account).where(Account.name == user_name, Account.kind == "user"))
    if user is None:
        raise AccountError(f"No user named {user_name!r}; create it first with `modelhub admin user create`.")
    return user


def list_tokens(db: Session, user_name: str) -> list[Token]:
    """The tokens of ``user_name``, oldest first (the rows carry the hash: never show it)."""
    user = _user(db, user_name)
    return list(db.scalars(select(Token).where(Token.user_id == user.id).order_by(Token.id)))


def revoke_token(db: Session, token_or_id: str) -> tuple[Token, str]:
    """Delete a token given its clear text (``hf_...``) or its id (as ``admin token list`` shows it); return the
    deleted row and its user's name. Running servers refuse the token from their next request on."""
    value = (token_or_id or "").strip()
    if value.isdigit():
        row = db.get(Token, int(value))
        what = f"with id {value}"
    else:
        row = db.scalar(select(Token).where(Token.token_hash == hash_token(value))) if value else None
        what = "with that value"
    if row is None:
        raise AccountError(
            f"No token {what}: pass the clear-text token (hf_...) or an id from the first column of"
            " `modelhub admin token list USER` (and the server's --data-dir / --database-url)."
        )
    owner = db.get(Account, row.user_id)
    db.delete(row)
    db.flush()
    return row, owner.name if owner is not None else "?"


def count_users(db: Session) -> int:
    return len(db.scalars(select(Account.id).where(Account.kind == "user")).all())


def org_names(db: Session | Connection, user_id: int) -> list[str]:
    rows = db.execute(
        select(Account.name)
        .join(Membership, Membership.org_id == Account.id)
        .where(Membership.user_id == user_id)
    )
    return sorted(r[0] for r in rows)


class TokenExpired(Exception):
    """A known token past its ``expires_at`` (the caller answers 401 saying so)."""

    def __init__(self, token_name: str, expired_at: dt.datetime) -> None:
        super().__init__(f"token {token_name!r} expired at {expired_at}")
        self.token_name = token_name
        self.expired_at = expired_at


_TOKEN_LOOKUP = (
    select(
        Token.id,
        Token.name,
        Token.role,
        Token.expires_at,
        Token.last_used_at,
        Account.id,
        Account.name,
        Account.is_admin,
    )
    .join(Account, Account.id == Token.user_id)
    .where(Token.token_hash == bindparam("token_hash"))
)


class TokenCache:
    """Resolves clear-text tokens to principals, checked against the database on every call.

    Nothing positive is cached (despite the historical name, kept for ``app.state.tokens``): a token deleted by
    ``modelhub admin token revoke`` -- another process, possibly on another host sharing PostgreSQL -- or past
    its expiry fails from the next request on. The cost is one indexed SELECT (the unique ``token_hash``, joined to
    the account) per authenticated request that the hot caches do not answer.

    ``last_used_at`` is refreshed when the stored value is older than ``last_used_every`` seconds, by one UPDATE
    run on a background thread: a request never waits for it (SQLite may hold writers for seconds), and a failed
    update is logged, never raised. Thread-safe: ``lookup`` may run on the event loop or in worker threads."""

    def __init__(self, sessions: sessionmaker, last_used_every: float = 60.0) -> None:
        self._sessions = sessions
        self._every = last_used_every
        self._lock = threading.Lock()
        self._touched: dict[int, float] = {}  # token id -> monotonic time of its last queued UPDATE
        self._queue: queue.SimpleQueue[tuple[int, dt.datetime]] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None

    def lookup(self, token: str) -> Principal | None:
        """The principal for a clear-text token; None if the token is unknown (or revoked); raises
        ``TokenExpired`` for a known token past its expiry."""
        # a Core connection rather than a Session: half the cost, on the path of every authenticated request
        with self._sessions.kw["bind"].connect() as conn:
            row = conn.execute(_TOKEN_LOOKUP, {"token_hash": hash_token(token)}).first()
        if row is None:
            return None
        tid, tname, role, expires_at, last_used, uid, uname, admin = row
        now = utcnow()
        if expires_at is not None and expires_at <= now:
            raise TokenExpired(tname, expires_at)
        if last_used is None or (now - last_used).total_seconds() >= self._every:
            self._touch(tid, now)
        return Principal(uid, uname, role, tname, bool(admin), self._sessions, tid)

    def _touch(self, token_id: int, now: dt.datetime) -> None:
        """Queue the ``last_used_at`` UPDATE unless this process queued one for the token recently (the row still
        reads old until it commits; and a failing UPDATE is not retried on every request)."""
        mono = time.monotonic()
        with self._lock:
            if mono - self._touched.get(token_id, -1e18) < self._every:
                return
            if len(self._touched) > 10_000:
                self._touched.clear()
            self._touched[token_id] = mono
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._write_last_used, name="token-last-used", daemon=True
                )
                self._worker.start()
        self._queue.put((token_id, now))

    def _write_last_used(self) -> None:
        # A Core connection, not a Session: a Session commit would fire the service's after_commit hook and
        # flush the hot caches for a change that no cached answer depends on.
        engine = self._sessions.kw["bind"]
        while True:
            token_id, now = self._queue.get()
            stale = now - dt.timedelta(seconds=self._every)
            try:
                with engine.begin() as conn:
                    conn.execute(
                        update(Token)
                        .where(Token.id == token_id)
                        .where(or_(Token.last_used_at.is_(None), Token.last_used_at < stale))
                        .values(last_used_at=now)
                    )
            except Exception as exc:  # never fatal: "last used" is informational
                logger.warning("could not record the last use of token %d: %s", token_id, exc)

    def clear(self) -> None:
        with self._lock:
            self._touched.clear()
