"""Signing in to the web pages: passwords (Argon2id, argon2-cffi) and server-side login sessions.

A session is a random cookie value whose SHA-256 is stored with the user and a CSRF token; nothing about the user
travels in the cookie. Every request looks the session up (one indexed query), so signing out or deleting the
user ends it at once, on every process."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session, sessionmaker

from ..storage.db import Account, LoginSession, single_read, utcnow
from .accounts import AccountError, Principal, _user

SESSION_LIFETIME = dt.timedelta(days=14)
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # bytes: bounds the hashing work an anonymous login attempt can ask for
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# verified against when the user does not exist, so that the answer takes as long as for a wrong password
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"The password is too short: use at least {MIN_PASSWORD} characters.")
    if len(password.encode()) > MAX_PASSWORD:
        raise AccountError(f"The password is too long: at most {MAX_PASSWORD} bytes.")
    return password


def set_password(db: Session, user_name: str, password: str) -> None:
    """Set (or replace) the password of a user; the caller commits."""
    user = _user(db, user_name)
    user.password_hash = _hasher.hash(check_password(password))
    db.flush()


def authenticate(db: Session, user_name: str, password: str) -> Account | None:
    """The user if ``password`` is theirs, else None (same work whether or not the user exists)."""
    if len(password.encode()) > MAX_PASSWORD or len(user_name) > 96:
        return None
    user = db.scalar(select(Account).where(Account.name == user_name, Account.kind == "user"))
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.password_hash or user.disabled:  # a disabled user signs in no more
        return None
    if _hasher.check_needs_rehash(stored):  # parameters raised since it was set: upgrade it now
        user.password_hash = _hasher.hash(password)
        db.commit()
    return user


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def open_session(db: Session, user: Account) -> str:
    """A new session for ``user``: returns the cookie value (the only time it exists in clear); commits."""
    value = secrets.token_urlsafe(32)
    now = utcnow()
    db.execute(delete(LoginSession).where(LoginSession.user_id == user.id, LoginSession.expires_at < now))
    db.add(
        LoginSession(
            token_hash=_digest(value),
            user_id=user.id,
            csrf=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    db.commit()
    return value


@dataclass(frozen=True)
class SignedIn:
    """Who a session cookie belongs to, and the CSRF token its forms must carry."""

    principal: Principal
    csrf: str


def session_user(sessions: sessionmaker, cookie: str) -> SignedIn | None:
    """The signed-in user of a session cookie; None for an unknown, ended or expired session."""
    if not cookie or len(cookie) > 128:
        return None
    with single_read(sessions.kw["bind"]) as conn:  # Core: cheap, read-only, on every page view
        row = conn.execute(
            select(Account.id, Account.name, Account.is_admin, LoginSession.csrf, LoginSession.expires_at)
            .join(Account, Account.id == LoginSession.user_id)
            .where(LoginSession.token_hash == _digest(cookie))
            .where(
                or_(Account.disabled.is_(None), Account.disabled.is_(False))
            )  # ended at once by `user disable`
        ).first()
    if row is None or row[4] <= utcnow():
        return None
    # a browser session acts with the user's full rights, like a write token (the forms are CSRF-protected)
    return SignedIn(Principal(row[0], row[1], "write", "web session", bool(row[2]), sessions), row[3])


def close_session(db: Session, cookie: str) -> None:
    db.execute(delete(LoginSession).where(LoginSession.token_hash == _digest(cookie)))
    db.commit()
