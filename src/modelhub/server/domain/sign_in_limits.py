"""Bounds on password sign-in: failed attempts per address and per account, and concurrent password checks.

A password check (Argon2id) costs tens of milliseconds of CPU and 64 MiB of memory by design, so an open sign-in
form is both a password-guessing target and a denial-of-service lever. Two bounds, checked before any hashing:

- failures are counted in the database (so every process sees them) per client address, per account at that
  address, and per account from anywhere, in a fixed window; past a limit, sign-in answers "try again in N
  minutes" without checking the password. A success clears only the account-at-address count, so one valid
  account cannot reset an address that is guessing at others. Tokens are never affected: a locked web sign-in
  does not stop a user's API access.
- at most a few checks run at once per process; a burst beyond that waits half a second at most, then is told
  to retry (waiting longer would let a burst of sign-ins hold every request thread).

Counts are written through a plain connection, not an ORM session, so that failed attempts do not bump the
write generation (which would empty every process's caches: caches.HotCache).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from ..storage.db import SignInFailure, single_read, utcnow

WINDOW = dt.timedelta(minutes=15)
PER_ACCOUNT_AT_ADDRESS = 5  # failures within WINDOW, then that pair is refused until the window ends
PER_ADDRESS = 30  # a client address guessing at many accounts
PER_ACCOUNT = 100  # one account guessed at from many addresses
_checks = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))
CHECK_WAIT_S = 0.5  # short: a waiting sign-in holds a request thread, so a burst must not hold them all


@dataclass
class SignInRefused(Exception):
    """Sign-in is refused before any password check: ``reason`` for the user, ``retry_after`` seconds."""

    reason: str
    retry_after: int


def _key(kind: str, value: str) -> str:
    # hashed: the table holds no addresses or names in clear
    return hashlib.sha256(f"{kind}\0{value}".encode()).hexdigest()


def _limits(user_name: str, address: str) -> list[tuple[str, int, str]]:
    """(key, limit, what to tell the user) for an attempt; account names compare case-insensitively."""
    name = user_name.lower()
    return [
        (_key("pair", f"{name}\0{address}"), PER_ACCOUNT_AT_ADDRESS, "for this account from your address"),
        (_key("address", address), PER_ADDRESS, "from your address"),
        (_key("account", name), PER_ACCOUNT, "for this account"),
    ]


def check(engine: Engine, user_name: str, address: str) -> None:
    """Raise ``SignInRefused`` when any count of this attempt is at its limit within the window."""
    limits = _limits(user_name, address)
    now = utcnow()
    with single_read(engine) as conn:
        rows = conn.execute(
            select(SignInFailure.key, SignInFailure.failures, SignInFailure.window_start).where(
                SignInFailure.key.in_([k for k, _, _ in limits])
            )
        ).all()
    found = {key: (failures, start) for key, failures, start in rows}
    for key, limit, what in limits:
        failures, start = found.get(key, (0, now))
        if failures >= limit and start + WINDOW > now:
            wait = int((start + WINDOW - now).total_seconds()) + 1
            raise SignInRefused(
                f"Too many failed sign-ins {what}. Try again in {max(1, round(wait / 60))} minute(s), "
                "or ask an administrator to set a new password (modelhub admin user password).",
                wait,
            )


def record_failure(engine: Engine, user_name: str, address: str) -> None:
    """Count one failed attempt under each of its keys (a new window where the old one ended); one upsert per
    key, so processes counting at once never lose a count."""
    now = utcnow()
    upsert = (postgresql_insert if engine.dialect.name == "postgresql" else sqlite_insert)(SignInFailure)
    with engine.begin() as conn:
        conn.execute(delete(SignInFailure).where(SignInFailure.window_start <= now - WINDOW))  # bounded table
        for key, _, _ in _limits(user_name, address):
            conn.execute(
                upsert.values(key=key, failures=1, window_start=now).on_conflict_do_update(
                    index_elements=[SignInFailure.key], set_={"failures": SignInFailure.failures + 1}
                )
            )


def record_success(engine: Engine, user_name: str, address: str) -> None:
    pair = _limits(user_name, address)[0][0]
    with engine.begin() as conn:
        conn.execute(delete(SignInFailure).where(SignInFailure.key == pair))


@contextmanager
def password_check_slot() -> Iterator[None]:
    """One of the few concurrent password checks of this process, or ``SignInRefused`` after a short wait."""
    if not _checks.acquire(timeout=CHECK_WAIT_S):
        raise SignInRefused("The server is busy checking other sign-ins; try again in a moment.", 1)
    try:
        yield
    finally:
        _checks.release()
