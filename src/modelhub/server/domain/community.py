"""Likes, organization members and the user / organization overviews: the queries behind them, HTTP-free (the
routes are in ``api/community.py``; the web pages use the same functions)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..storage.db import Account, Like, Membership, Repo, utcnow
from .accounts import Principal, find_account, org_members
from .errors import NotFound
from .objects import insert_ignore, readable_clause


def like(db: Session, user_id: int, repo_pk: int) -> None:
    insert_ignore(db, Like, [{"user_id": user_id, "repo_pk": repo_pk, "created_at": utcnow()}])


def unlike(db: Session, user_id: int, repo_pk: int) -> None:
    row = db.get(Like, (user_id, repo_pk))
    if row is not None:
        db.delete(row)


def like_counts(db: Session, repo_pks: list[int]) -> dict[int, int]:
    if not repo_pks:
        return {}
    rows = db.execute(
        select(Like.repo_pk, func.count()).where(Like.repo_pk.in_(repo_pks)).group_by(Like.repo_pk)
    )
    return {pk: int(n) for pk, n in rows}


def likers(db: Session, repo_pk: int, offset: int = 0, limit: int | None = None) -> list[Account]:
    """Who liked the repo, first likes first (``offset`` / ``limit``: one page)."""
    return list(
        db.scalars(
            select(Account)
            .join(Like, Like.user_id == Account.id)
            .where(Like.repo_pk == repo_pk)
            .order_by(Like.created_at, Account.id)
            .offset(offset)
            .limit(limit)
        )
    )


def user_account(db: Session, name: str, kind: str = "user") -> Account:
    acc = find_account(db, name, kind)
    if acc is None:
        raise NotFound(
            f"No {'user' if kind == 'user' else 'organization'} named {name[:100]!r}.",
            f"{kind.title()}NotFound",
        )
    return acc


def liked_repos(
    db: Session, viewer: Principal | None, user_name: str, offset: int = 0, limit: int | None = None
) -> list[tuple[Repo, Any]]:
    """The repos ``user_name`` liked that ``viewer`` may see (a private repo stays invisible), newest first."""
    user = user_account(db, user_name)
    rows = db.execute(
        select(Repo, Like.created_at)
        .join(Like, Like.repo_pk == Repo.id)
        .where(Like.user_id == user.id, readable_clause(viewer))
        .order_by(Like.created_at.desc(), Repo.id)
        .offset(offset)
        .limit(limit)
    ).all()
    return [(repo, at) for repo, at in rows]


def repo_counts(db: Session, viewer: Principal | None, namespace: str) -> dict[str, int]:
    """How many repos of each type ``viewer`` can see in ``namespace``."""
    rows = db.execute(
        select(Repo.type, func.count())
        .where(func.lower(Repo.namespace) == namespace.lower(), readable_clause(viewer))
        .group_by(Repo.type)
    )
    return {t: int(n) for t, n in rows}


def _account_json(acc: Account) -> dict[str, Any]:
    return {"avatarUrl": "", "fullname": acc.fullname or acc.name}


def user_overview(db: Session, viewer: Principal | None, name: str) -> dict[str, Any]:
    user = user_account(db, name)
    counts = repo_counts(db, viewer, user.name)
    orgs = db.scalars(
        select(Account).join(Membership, Membership.org_id == Account.id).where(Membership.user_id == user.id)
    )
    num_likes = db.scalar(select(func.count()).select_from(Like).where(Like.user_id == user.id)) or 0
    return {
        "_id": str(user.id),
        "user": user.name,
        "type": "user",
        **_account_json(user),
        "isPro": False,
        "isAdmin": bool(user.is_admin),
        "disabled": bool(user.disabled),
        "createdAt": user.created_at,
        "numModels": counts.get("model", 0),
        "numDatasets": counts.get("dataset", 0),
        "numSpaces": counts.get("space", 0),
        "numLikes": int(num_likes),
        "numDiscussions": 0,
        "numPapers": 0,
        "numUpvotes": 0,
        "numFollowers": 0,
        "numFollowing": 0,
        "orgs": [{"name": o.name, **_account_json(o)} for o in sorted(orgs, key=lambda o: o.name)],
    }


def org_overview(db: Session, viewer: Principal | None, name: str) -> dict[str, Any]:
    org = user_account(db, name, "org")
    counts = repo_counts(db, viewer, org.name)
    num_users = (
        db.scalar(select(func.count()).select_from(Membership).where(Membership.org_id == org.id)) or 0
    )
    return {
        "_id": str(org.id),
        "name": org.name,
        "type": "org",
        **_account_json(org),
        "isVerified": False,
        "isFollowing": False,
        "numUsers": int(num_users),
        "numModels": counts.get("model", 0),
        "numDatasets": counts.get("dataset", 0),
        "numSpaces": counts.get("space", 0),
        "numFollowers": 0,
        "numPapers": 0,
    }


def members_json(
    db: Session, viewer: Principal | None, org_name: str, offset: int = 0, limit: int | None = None
) -> list[dict[str, Any]]:
    """The members of an org, by name; their roles are shown to the org's members only (and hub admins)."""
    org = user_account(db, org_name, "org")
    show_roles = viewer is not None and viewer.member_of(org.name)
    out = []
    for acc, role in org_members(db, org.name, offset, limit):
        item = {"_id": str(acc.id), "user": acc.name, "type": "user", **_account_json(acc), "isPro": False}
        if show_roles:
            item["role"] = role
        out.append(item)
    return out
