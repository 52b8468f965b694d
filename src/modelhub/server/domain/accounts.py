"""Users, organizations and access tokens (stored hashed), and the permission rules built on them."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
import queue
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from ..storage.db import GENERATION, Account, Membership, Token, single_read, utcnow

if TYPE_CHECKING:
    from ..storage.async_reads import AsyncReads

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.\-]{0,94}[A-Za-z0-9])?$")
ROLES = ("read", "write")  # a classic token's role
# An organization member's role, as on the Hub: read (private repos of the org), contributor (also writes the repos
# they created), write (every repo of the org: create, commit, delete, rename, settings), admin (also manages the
# members). "contributor" is kept distinct so that an org can let members push their own work only.
ORG_ROLES = ("read", "contributor", "write", "admin")
# First URL segments the server routes itself (the API and the web pages): an account of that name would shadow them.
RESERVED_NAMES = frozenset(
    {"api", "datasets", "spaces", "models", "docs", "openapi.json", "lfs-upload", "lfs-objects"}
    | {"login", "logout", "new", "settings", "search", "redoc", "static", "join", "organizations"}
)
NONE, READ, WRITE = 0, 1, 2  # access levels to a repo


class AccountError(ValueError):
    """Bad input to an account operation (the message says what and what to do)."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token_value() -> str:
    return "hf_" + secrets.token_urlsafe(30).replace("-", "a").replace("_", "b")


def check_account_name(name: str) -> str:
    if name.lower() in RESERVED_NAMES:
        raise AccountError(f"The name {name!r} is reserved by the server's URL scheme; choose another.")
    if not _NAME.match(name or "") or "--" in name or ".." in name:
        raise AccountError(
            f"Invalid account name {name!r}: use 1-96 letters, digits, '_', '-' or '.', starting and ending with"
            " a letter or digit, without '--' or '..'."
        )
    return name


@dataclass(frozen=True)
class Scope:
    """One entry of a fine-grained token: a repo (``kind="repo"``, ``name`` = ``ns/name``, with its type) or a
    whole namespace (``kind="namespace"``). Names compare ignoring case, like the repos they name."""

    kind: str
    name: str
    repo_type: str = "model"

    def covers(self, repo_type: str, namespace: str, name: str) -> bool:
        if self.kind == "namespace":
            return self.name.lower() == namespace.lower()
        return self.repo_type == repo_type and self.name.lower() == f"{namespace}/{name}".lower()

    def as_json(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name, "repo_type": self.repo_type}


def parse_scopes(text: str | None) -> tuple[Scope, ...] | None:
    """The scopes stored with a token (JSON list), None for a classic token that is not limited."""
    if not text:
        return None
    return tuple(Scope(d["kind"], d["name"], d.get("repo_type", "model")) for d in json.loads(text))


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user, the role of the token used and, for a fine-grained token, what it is limited to.

    Organization roles are looked up once per principal (one per request), never cached across requests, so that
    adding, removing or demoting a member takes effect at once."""

    user_id: int
    name: str
    role: str
    token_name: str
    is_admin: bool = False
    sessions: sessionmaker | None = field(default=None, compare=False, repr=False)
    token_id: int = 0  # the token row (CAS tokens name it, so that revoking the hub token stops them)
    scopes: tuple[Scope, ...] | None = None  # None: the token may act wherever its user may
    # The database's write generation, read in the same statement as the token: the hot caches sync with it
    # instead of reading it again (one round trip per authenticated request, not two).
    db_generation: int | None = field(default=None, compare=False, repr=False)
    # SHA-256 (hex) of the token: what CAS tokens are bound to, besides the row id that SQLite may hand out again
    token_hash: str = field(default="", compare=False, repr=False)

    @property
    def can_write(self) -> bool:
        return self.role == "write"

    @property
    def cache_key(self) -> tuple[object, ...]:
        """What an answer cached for this caller depends on (user, token role, token scopes)."""
        return (self.user_id, self.role, self.scopes)

    @functools.cached_property
    def org_roles(self) -> dict[str, str]:
        """Lower-cased organization name -> this user's role in it."""
        if self.sessions is None:
            return {}
        with single_read(self.sessions.kw["bind"]) as conn:  # Core: cheaper than a Session, read-only
            rows = conn.execute(
                select(Account.name, Membership.role)
                .join(Membership, Membership.org_id == Account.id)
                .where(Membership.user_id == self.user_id)
            )
            return {name.lower(): role for name, role in rows}

    @property
    def orgs(self) -> frozenset[str]:
        return frozenset(self.org_roles)

    def namespace_role(self, namespace: str) -> str | None:
        """``owner`` for the user's own namespace, the org role for an org, None otherwise (admins: ``admin``)."""
        if namespace.lower() == self.name.lower():
            return "owner"
        if self.is_admin:
            return "admin"
        return self.org_roles.get(namespace.lower())

    def member_of(self, namespace: str) -> bool:
        return self.is_admin or self.namespace_role(namespace) is not None

    def in_scope(self, repo_type: str, namespace: str, name: str) -> bool:
        return self.scopes is None or any(s.covers(repo_type, namespace, name) for s in self.scopes)


class ReadableRepo(Protocol):
    """What the rules look at: a ``Repo`` row, or the session-free ``RepoSnap`` cached from one."""

    @property
    def type(self) -> str: ...

    @property
    def namespace(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def private(self) -> bool: ...

    @property
    def created_by(self) -> int | None: ...


def repo_level(principal: Principal | None, repo: ReadableRepo) -> int:
    """NONE, READ or WRITE: what ``principal`` may do to ``repo``. The one rule every route (and web page) uses:

    - the user's own namespace and the orgs where the user has the ``write`` or ``admin`` role: WRITE;
      ``contributor``: WRITE on the repos the user created, READ on the others; ``read``: READ; admins: WRITE;
    - a ``read`` token caps it at READ; a fine-grained token gives nothing outside its scopes;
    - everyone, anonymous callers included, may READ a public repo."""
    public = NONE if repo.private else READ
    if principal is None:
        return public
    role = principal.namespace_role(repo.namespace)
    if role in ("owner", "admin", "write"):
        level = WRITE
    elif role == "contributor":
        level = WRITE if repo.created_by == principal.user_id else READ
    elif role == "read":
        level = READ
    else:
        level = NONE
    if not principal.can_write:
        level = min(level, READ)
    if not principal.in_scope(repo.type, repo.namespace, repo.name):
        level = NONE
    return max(level, public)


def can_read(principal: Principal | None, repo: ReadableRepo) -> bool:
    return not repo.private or repo_level(principal, repo) >= READ  # public: no role lookup on the hot path


def can_write(principal: Principal | None, repo: ReadableRepo) -> bool:
    return repo_level(principal, repo) >= WRITE


def can_contribute(principal: Principal | None, repo: ReadableRepo) -> bool:
    """May open a pull request with content (and push to the PRs it opened): any signed-in user who can read the
    repo, with a write token whose scopes (if any) cover the repo, as on the Hub."""
    return (
        principal is not None
        and principal.can_write
        and can_read(principal, repo)
        and principal.in_scope(repo.type, repo.namespace, repo.name)
    )


def can_create_in(principal: Principal | None, namespace: str) -> bool:
    """May create (or move a repo into) ``namespace``: owner, org write/admin/contributor, write token, scope."""
    if principal is None or not principal.can_write:
        return False
    if principal.namespace_role(namespace) not in ("owner", "admin", "write", "contributor"):
        return False
    return principal.scopes is None or any(
        s.kind == "namespace" and s.name.lower() == namespace.lower() for s in principal.scopes
    )


def can_write_namespace(principal: Principal | None, namespace: str) -> bool:  # kept for older callers
    return can_create_in(principal, namespace)


def can_manage_org(principal: Principal | None, org: str) -> bool:
    """May change an organization's members and roles: its admins (and hub admins), with a write token."""
    return (
        principal is not None
        and principal.can_write
        and principal.namespace_role(org) == "admin"
        and (
            principal.scopes is None
            or any(s.kind == "namespace" and s.name.lower() == org.lower() for s in principal.scopes)
        )
    )


# --- account operations (used by the admin CLI, the first-run path and the tests) ---------------------------


def find_account(db: Session, name: str, kind: str | None = None) -> Account | None:
    """The account of that name, ignoring case (names are unique ignoring case, like repo names)."""
    stmt = select(Account).where(func.lower(Account.name) == (name or "").lower())
    if kind is not None:
        stmt = stmt.where(Account.kind == kind)
    return db.scalar(stmt)


def create_user(db: Session, name: str, *, fullname: str = "", is_admin: bool = False) -> Account:
    check_account_name(name)
    if find_account(db, name) is not None:
        raise AccountError(
            f"The name {name!r} is already taken (by a user or an organization); choose another."
        )
    acc = Account(name=name, kind="user", fullname=fullname or name, is_admin=is_admin)
    db.add(acc)
    db.flush()
    return acc


def create_org(db: Session, name: str, members: list[str] | tuple[str, ...] = ()) -> Account:
    check_account_name(name)
    if find_account(db, name) is not None:
        raise AccountError(
            f"The name {name!r} is already taken (by a user or an organization); choose another."
        )
    org = Account(name=name, kind="org", fullname=name)
    db.add(org)
    db.flush()
    for member in members:
        add_member(db, name, member)
    return org


def _org(db: Session, org_name: str) -> Account:
    org = find_account(db, org_name, "org")
    if org is None:
        raise AccountError(f"No organization named {org_name!r}; create it with `modelhub admin org create`.")
    return org


def check_org_role(role: str) -> str:
    if role not in ORG_ROLES:
        raise AccountError(f"Invalid organization role {role!r}: expected one of {', '.join(ORG_ROLES)}.")
    return role


def add_member(db: Session, org_name: str, user_name: str, role: str = "write") -> None:
    """Add ``user_name`` to the org with ``role`` (a member already there keeps the role it has)."""
    check_org_role(role)
    org = _org(db, org_name)
    user = _user(db, user_name)
    if db.get(Membership, (org.id, user.id)) is None:
        db.add(Membership(org_id=org.id, user_id=user.id, role=role))
        db.flush()


def set_member_role(db: Session, org_name: str, user_name: str, role: str) -> None:
    """Make ``user_name`` a member with ``role`` (added if not a member yet)."""
    check_org_role(role)
    org = _org(db, org_name)
    user = _user(db, user_name)
    row = db.get(Membership, (org.id, user.id))
    if row is None:
        db.add(Membership(org_id=org.id, user_id=user.id, role=role))
    else:
        row.role = role
    db.flush()


def remove_member(db: Session, org_name: str, user_name: str) -> None:
    org = _org(db, org_name)
    user = _user(db, user_name)
    row = db.get(Membership, (org.id, user.id))
    if row is None:
        raise AccountError(f"{user.name!r} is not a member of {org.name!r}.")
    db.delete(row)
    db.flush()


def org_members(
    db: Session, org_name: str, offset: int = 0, limit: int | None = None
) -> list[tuple[Account, str]]:
    """The members of an org with their roles, by name (``offset`` / ``limit``: one page)."""
    org = _org(db, org_name)
    rows = db.execute(
        select(Account, Membership.role)
        .join(Membership, Membership.user_id == Account.id)
        .where(Membership.org_id == org.id)
        .order_by(Account.name)
        .offset(offset)
        .limit(limit)
    ).all()
    return [(acc, role) for acc, role in rows]


def set_disabled(db: Session, user_name: str, disabled: bool) -> Account:
    """Disable (or re-enable) a user: every token of a disabled user is refused from the next request on."""
    user = _user(db, user_name)
    user.disabled = disabled
    db.flush()
    return user


def delete_user(db: Session, user_name: str, *, with_repos: bool = False) -> Account:
    """Delete a user with its tokens, memberships, likes and access requests (the database cascades). Refused
    while the user owns repos, unless ``with_repos`` (then they are deleted too)."""
    from ..storage.db import Repo

    user = _user(db, user_name)
    repos = list(db.scalars(select(Repo).where(Repo.namespace == user.name)))
    if repos and not with_repos:
        raise AccountError(
            f"User {user.name!r} owns {len(repos)} repos ({', '.join(r.repo_id for r in repos[:5])}...):"
            " move or delete them first, or pass --with-repos to delete them with the user."
        )
    for repo in repos:
        db.delete(repo)
    db.delete(user)
    db.flush()
    return user


def create_token(
    db: Session,
    user_name: str,
    *,
    role: str = "write",
    name: str | None = None,
    expires_in: dt.timedelta | None = None,
    scopes: list[Scope] | tuple[Scope, ...] | None = None,
) -> str:
    """Create a token for ``user_name`` and return its clear text (the only time it is available).

    With ``expires_in`` the token stops working that long after its creation (None: it never expires). With
    ``scopes`` it is a fine-grained token: its role applies to those repos / namespaces only."""
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
            scopes_json=json.dumps([sc.as_json() for sc in scopes]) if scopes else None,
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


def parse_scope(text: str) -> Scope:
    """``ns/name`` (a model), ``datasets/ns/name`` / ``spaces/ns/name``, or ``ns`` (a whole namespace)."""
    parts = (text or "").strip().strip("/").split("/")
    repo_type = "model"
    if len(parts) == 3 and parts[0] in ("models", "datasets", "spaces"):
        repo_type = parts.pop(0).removesuffix("s")
    if len(parts) in (1, 2) and all(_NAME.match(part) for part in parts):
        return Scope("namespace", parts[0]) if len(parts) == 1 else Scope("repo", "/".join(parts), repo_type)
    raise AccountError(
        f"Invalid token scope {text!r}: give a namespace (alice, my-org) or a repo (alice/model,"
        " datasets/alice/data, spaces/alice/app)."
    )


def _user(db: Session, user_name: str) -> Account:
    user = find_account(db, user_name, "user")
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


class AccountDisabled(Exception):
    """A known token of a disabled user (the caller answers 401 saying so)."""

    def __init__(self, user: str) -> None:
        super().__init__(f"user {user!r} is disabled")
        self.user = user


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
        Account.disabled,
        Token.scopes_json,
        GENERATION.scalar_subquery(),
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
        # (token id, token hash) -> monotonic time of its last queued UPDATE; the hash too, because SQLite hands a
        # deleted token's id to the next token created, which must not inherit the throttle
        self._touched: dict[tuple[int, str], float] = {}
        self._queue: queue.SimpleQueue[tuple[int, dt.datetime]] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None

    def lookup(self, token: str) -> Principal | None:
        """The principal for a clear-text token; None if the token is unknown (or revoked, or its user deleted);
        raises ``TokenExpired`` for a known token past its expiry, ``AccountDisabled`` for a disabled user's."""
        # a Core connection rather than a Session: half the cost, on the path of every authenticated request
        with single_read(self._sessions.kw["bind"]) as conn:
            row = conn.execute(_TOKEN_LOOKUP, {"token_hash": (token_hash := hash_token(token))}).first()
        return self._principal(row, token_hash)

    async def lookup_on_loop(self, token: str, reads: AsyncReads) -> Principal | None:
        """``lookup`` without a thread: the same statement awaited on the event loop (PostgreSQL)."""
        row = await reads.first(_TOKEN_LOOKUP, {"token_hash": (token_hash := hash_token(token))})
        return self._principal(row, token_hash)

    def _principal(self, row: Any, token_hash: str) -> Principal | None:
        if row is None:
            return None
        tid, tname, role, expires_at, last_used, uid, uname, admin, disabled, scopes, generation = row
        if disabled:
            raise AccountDisabled(uname)
        now = utcnow()
        if expires_at is not None and expires_at <= now:
            raise TokenExpired(tname, expires_at)
        if last_used is None or (now - last_used).total_seconds() >= self._every:
            self._touch(tid, token_hash, now)  # queues the write for a background thread: never waits
        return Principal(
            uid,
            uname,
            role,
            tname,
            bool(admin),
            self._sessions,
            token_id=tid,
            scopes=parse_scopes(scopes),
            db_generation=generation or 0,
            token_hash=token_hash,
        )

    def _touch(self, token_id: int, token_hash: str, now: dt.datetime) -> None:
        """Queue the ``last_used_at`` UPDATE unless this process queued one for the token recently (the row still
        reads old until it commits; and a failing UPDATE is not retried on every request)."""
        mono = time.monotonic()
        with self._lock:
            if mono - self._touched.get((token_id, token_hash), -1e18) < self._every:
                return
            if len(self._touched) > 10_000:
                self._touched.clear()
            self._touched[(token_id, token_hash)] = mono
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
