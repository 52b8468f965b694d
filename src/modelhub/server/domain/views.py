"""Read models: the queries behind what the hub shows, shared by the JSON API (``api/``) and the web pages
(``web/``). Each returns plain data; the callers shape it into JSON or HTML."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..storage.db import Ref, Repo
from .accounts import Principal
from .hub import CommitRow, HubService, RepoSnap
from .objects import readable_clause
from .trees import FileTree, card_tags


@dataclass(frozen=True)
class RepoSummary:
    """A repo as listings show it: the card data of its default branch head, its tags and head commit."""

    repo: Repo
    card: dict[str, Any]
    tags: list[str]
    sha: str | None


@dataclass(frozen=True)
class RepoDetail:
    """A repo at one commit: its files, card data and tags (``repo``: the row, or its cached snapshot)."""

    repo: Repo | RepoSnap
    commit: CommitRow
    tree: FileTree
    card: dict[str, Any]
    tags: list[str]


SORT_COLUMNS = {"createdAt": Repo.created_at, "id": Repo.namespace + "/" + Repo.name}


def search_repos(
    db: Session,
    principal: Principal | None,
    repo_type: str,
    *,
    author: str | None = None,
    search: str | None = None,
    filters: list[str] | None = None,
    sort: str = "lastModified",
    direction: str | None = None,
    offset: int = 0,
    limit: int = 1000,
) -> tuple[list[RepoSummary], int]:
    """One page of the repos ``principal`` may read, and how many match in all. ``search`` is a case-insensitive
    substring of the id, ``filters`` tags that must all be present (or the library name)."""
    stmt = select(Repo).where(Repo.type == repo_type, readable_clause(principal))
    if author:
        stmt = stmt.where(Repo.namespace == author)
    if search:
        # autoescape: a "%" or "_" in the search text is matched literally, not as a LIKE wildcard
        stmt = stmt.where(
            func.lower(Repo.namespace + "/" + Repo.name).contains(search.lower(), autoescape=True)
        )
    order = SORT_COLUMNS.get(sort, Repo.last_modified)
    ascending = direction in ("1", "asc") or (sort == "id" and direction is None)
    stmt = stmt.order_by(order.asc() if ascending else order.desc(), Repo.id)
    matches: list[tuple[Repo, dict[str, Any], list[str]]] = []
    for repo in db.scalars(stmt):
        card = json.loads(repo.card_json or "{}")
        tags = card_tags(card)
        if filters and not all(f in tags or f == card.get("library_name") for f in filters):
            continue
        matches.append((repo, card, tags))
    page = matches[offset : offset + limit]
    heads = dict(
        db.execute(
            select(Ref.repo_pk, Ref.commit_id).where(
                Ref.repo_pk.in_([r.id for r, _, _ in page]), Ref.name == "refs/heads/main"
            )
        ).all()
    )
    return [RepoSummary(r, card, tags, heads.get(r.id)) for r, card, tags in page], len(matches)


def repo_detail(service: HubService, db: Session, repo: Repo | RepoSnap, commit_id: str) -> RepoDetail:
    row = service.commit_row(db, commit_id)
    if row is None:
        raise RuntimeError(f"commit {commit_id} of {repo.repo_id} is missing from the database")
    card = service.card_at(db, commit_id)
    return RepoDetail(repo, row, service.tree(db, row.tree_id), card, card_tags(card))


def refs_of(db: Session, repo: Repo) -> list[tuple[str, str]]:
    """Every ref of the repo as (name, commit id), sorted by name."""
    return [
        (name, cid)
        for name, cid in db.execute(
            select(Ref.name, Ref.commit_id).where(Ref.repo_pk == repo.id).order_by(Ref.name)
        ).all()
    ]


def recent_repos(db: Session, principal: Principal | None, limit: int = 50) -> list[Repo]:
    """The most recently modified repos of every type that ``principal`` may read."""
    stmt = select(Repo).where(readable_clause(principal)).order_by(Repo.last_modified.desc()).limit(limit)
    return list(db.scalars(stmt))
