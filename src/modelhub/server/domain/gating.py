"""Gated repos: ``gated="auto"|"manual"`` keeps a repo's files from everyone but its writers and the users whose
access request was accepted; its metadata (info, tree, refs, discussions) stays visible to its readers.

A request is one row per (repo, user) in ``access_requests``: ``pending`` -> ``accepted`` / ``rejected``, moved by
the repo's writers (``handle``) or at once to ``accepted`` in ``auto`` mode; ``grant`` accepts a user who never
asked. HTTP-free: the routes are in ``api/community.py``."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ..storage.db import AccessRequest, Account, single_read, utcnow
from .accounts import Principal, ReadableRepo, can_write, find_account
from .errors import GatedRepo, NotFound, bad_request

STATUSES = ("pending", "accepted", "rejected")
MAX_FIELDS = 20  # form fields a request may carry, each bounded below
MAX_FIELD_CHARS = 1000


@dataclass(frozen=True)
class RequestView:
    id: int
    user: str
    fullname: str
    status: str
    created_at: dt.datetime
    fields: dict[str, Any]


def may_download(sessions: sessionmaker, p: Principal | None, repo: ReadableRepo, repo_pk: int) -> bool:
    """Whether ``p`` (who may read the repo) may have its files: always for a repo that is not gated."""
    if not getattr(repo, "gated", "") or can_write(p, repo):
        return True
    return request_status(sessions, p, repo_pk) == "accepted"  # one cheap Core read on the download path


def request_status(sessions: sessionmaker, p: Principal | None, repo_pk: int) -> str | None:
    """The status of ``p``'s access request for the repo (pending, accepted, rejected), None if it never asked."""
    if p is None:
        return None
    with single_read(sessions.kw["bind"]) as conn:
        return conn.execute(
            select(AccessRequest.status).where(
                AccessRequest.repo_pk == repo_pk, AccessRequest.user_id == p.user_id
            )
        ).scalar()


def refusal(p: Principal | None, repo_type: str, repo_id: str, web_url: str) -> GatedRepo:
    kind = {"model": "model", "dataset": "dataset", "space": "space"}.get(repo_type, "repo")
    plural = f"{kind}s"
    if p is None:
        return GatedRepo(
            f"Access to {kind} {repo_id} is restricted. You must have access to it and be authenticated to access"
            f" it. Please log in (pass a token), then ask for access at {web_url} or with"
            f" POST /api/{plural}/{repo_id}/ask-access.",
            anonymous=True,
        )
    return GatedRepo(
        f"Access to {kind} {repo_id} is restricted and you ({p.name}) are not in the authorized list. Ask for access"
        f" at {web_url} or with POST /api/{plural}/{repo_id}/ask-access; a writer of the repo then accepts it.",
        anonymous=False,
    )


def check_fields(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or len(raw) > MAX_FIELDS:
        raise bad_request(f"'fields' must be an object of at most {MAX_FIELDS} short text answers.")
    out = {}
    for key, value in raw.items():
        text = value if isinstance(value, str) else json.dumps(value)
        if len(key) > 100 or len(text) > MAX_FIELD_CHARS:
            raise bad_request(
                f"Field {key[:40]!r}: names up to 100, answers up to {MAX_FIELD_CHARS} characters."
            )
        out[key] = text
    return out


def ask(db: Session, repo_pk: int, gated: str, user_id: int, fields: dict[str, str]) -> str:
    """File (or re-file) the caller's request; ``auto`` accepts it at once. Returns the status."""
    if not gated:
        raise bad_request(
            "This repo is not gated: its files are open to every reader, there is nothing to ask."
        )
    row = db.scalar(
        select(AccessRequest).where(AccessRequest.repo_pk == repo_pk, AccessRequest.user_id == user_id)
    )
    status = "accepted" if gated == "auto" else "pending"
    if row is None:
        row = AccessRequest(repo_pk=repo_pk, user_id=user_id, status=status, fields_json=json.dumps(fields))
        db.add(row)
    elif row.status == "rejected":
        raise bad_request("Your access request was rejected by the repo's authors.")
    elif row.status == "pending":
        row.status, row.fields_json, row.updated_at = status, json.dumps(fields), utcnow()
    db.flush()
    return row.status


def listing(db: Session, repo_pk: int, status: str) -> list[RequestView]:
    rows = db.execute(
        select(AccessRequest, Account.name, Account.fullname)
        .join(Account, Account.id == AccessRequest.user_id)
        .where(AccessRequest.repo_pk == repo_pk, AccessRequest.status == status)
        .order_by(AccessRequest.id)
    ).all()
    return [
        RequestView(r.id, name, fullname, r.status, r.created_at, json.loads(r.fields_json or "{}"))
        for r, name, fullname in rows
    ]


def _target(db: Session, repo_pk: int, user: Any, request_id: Any) -> tuple[AccessRequest | None, Account]:
    if (user is None) == (request_id is None):
        raise bad_request("Give exactly one of 'user' (a user name) or 'requestId'.")
    if user is not None:
        acc = find_account(db, str(user), "user") if isinstance(user, str) else None
        if acc is None:
            raise NotFound(f"No user named {str(user)[:100]!r}.", "UserNotFound")
        row = db.scalar(
            select(AccessRequest).where(AccessRequest.repo_pk == repo_pk, AccessRequest.user_id == acc.id)
        )
        return row, acc
    rid = str(request_id)
    row = db.get(AccessRequest, int(rid)) if rid.isascii() and rid.isdigit() and len(rid) < 12 else None
    if row is None or row.repo_pk != repo_pk:
        raise NotFound(f"No access request {rid[:40]!r} for this repo.", "AccessRequestNotFound")
    acc = db.get(Account, row.user_id)
    assert acc is not None
    return row, acc


def handle(db: Session, repo_pk: int, gated: str, body: dict[str, Any]) -> None:
    """Accept, reject or move back to pending (``cancel_access_request``) one user's request."""
    if not gated:
        raise bad_request("This repo is not gated.")
    status = body.get("status")
    if status not in STATUSES:
        raise bad_request(f"Invalid status {str(status)[:40]!r}: expected pending, accepted or rejected.")
    row, acc = _target(db, repo_pk, body.get("user"), body.get("requestId"))
    if row is None:
        raise NotFound(f"User {acc.name!r} has no access request for this repo.", "AccessRequestNotFound")
    if row.status == status:
        raise NotFound(f"The request of {acc.name!r} is already {status}.", "AccessRequestNotFound")
    reason = body.get("rejectionReason")
    row.status, row.updated_at = status, utcnow()
    if isinstance(reason, str):
        row.reason = reason[:MAX_FIELD_CHARS]
    db.flush()


def grant(db: Session, repo_pk: int, gated: str, user: Any) -> str:
    """Accept ``user`` without a request of theirs; 400 if they have access already."""
    if not gated:
        raise bad_request("This repo is not gated.")
    row, acc = _target(db, repo_pk, user, None)
    if row is None:
        db.add(AccessRequest(repo_pk=repo_pk, user_id=acc.id, status="accepted"))
    elif row.status == "accepted":
        raise bad_request(f"User {acc.name!r} already has access to this repo.")
    else:
        row.status, row.updated_at = "accepted", utcnow()
    db.flush()
    return acc.name
