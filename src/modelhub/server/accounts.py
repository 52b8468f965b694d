"""Users, organizations and access tokens (stored hashed), and the permission rules built on them."""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from .db import Account, Membership, Repo, Token

_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.\-]{0,94}[A-Za-z0-9])?$")
ROLES = ("read", "write")
# First URL segments the server routes itself: an account of that name would shadow them.
RESERVED_NAMES = frozenset(
    {"api", "datasets", "spaces", "models", "docs", "openapi.json", "lfs-upload", "lfs-objects"}
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

    @property
    def can_write(self) -> bool:
        return self.role == "write"

    @property
    def orgs(self) -> frozenset[str]:
        if self.sessions is None:
            return frozenset()
        with self.sessions() as db:
            return frozenset(org_names(db, self.user_id))

    def member_of(self, namespace: str) -> bool:
        return self.is_admin or namespace == self.name or namespace in self.orgs


def can_read(principal: Principal | None, repo: Repo) -> bool:
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


def create_token(db: Session, user_name: str, *, role: str = "write", name: str | None = None) -> str:
    """Create a token for ``user_name`` and return its clear text (the only time it is available)."""
    if role not in ROLES:
        raise AccountError(f"Invalid token role {role!r}: expected 'read' or 'write'.")
    user = db.scalar(select(Account).where(Account.name == user_name, Account.kind == "user"))
    if user is None:
        raise AccountError(f"No user named {user_name!r}; create it first with `modelhub admin user create`.")
    value = new_token_value()
    db.add(Token(user_id=user.id, name=name or f"{role}-token", role=role, token_hash=hash_token(value)))
    db.flush()
    return value


def count_users(db: Session) -> int:
    return len(db.scalars(select(Account.id).where(Account.kind == "user")).all())


def org_names(db: Session, user_id: int) -> list[str]:
    rows = db.execute(
        select(Account.name)
        .join(Membership, Membership.org_id == Account.id)
        .where(Membership.user_id == user_id)
    )
    return sorted(r[0] for r in rows)


class TokenCache:
    """Token hash -> Principal, kept a few seconds so hot paths (HEAD resolve) skip the database."""

    def __init__(self, sessions: sessionmaker, ttl: float = 5.0) -> None:
        self._sessions = sessions
        self._ttl = ttl
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, Principal]] = {}

    def lookup(self, token: str) -> Principal | None:
        """The principal for a clear-text token, or None if the token is unknown (unknown ones are not cached,
        so a token created a moment ago by the admin CLI works at once)."""
        h = hash_token(token)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(h)
            if hit is not None and hit[0] > now:
                return hit[1]
        principal = self._load(h)
        if principal is not None:
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[h] = (now + self._ttl, principal)
        return principal

    def _load(self, h: str) -> Principal | None:
        with self._sessions() as db:
            row = db.execute(
                select(Token.name, Token.role, Account.id, Account.name, Account.is_admin)
                .join(Account, Account.id == Token.user_id)
                .where(Token.token_hash == h)
            ).first()
            if row is None:
                return None
            tname, role, uid, uname, admin = row
            return Principal(uid, uname, role, tname, bool(admin), self._sessions)

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
