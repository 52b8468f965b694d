"""Read models: the queries behind what the hub shows, shared by the JSON API (``api/``) and the web pages
(``web/``). Each returns plain data; the callers shape it into JSON or HTML."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..storage.db import Ref, Repo
from . import metadata
from .accounts import Principal
from .community import like_counts
from .downloads import DownloadCounter
from .hub import CommitRow, HubService, RepoSnap
from .metadata import RepoMeta
from .objects import readable_clause
from .trees import FileTree, card_tags


@dataclass(frozen=True)
class RepoSummary:
    """A repo as listings show it: the card data of its default branch head, its tags and head commit, the
    derived library / pipeline tag (``meta``), likes and downloads (last 30 days, all time)."""

    repo: Repo
    card: dict[str, Any]
    tags: list[str]
    sha: str | None
    meta: dict[str, Any] = field(default_factory=dict)
    likes: int = 0
    downloads: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class RepoDetail:
    """A repo at one commit: its files, card data and tags (``repo``: the row, or its cached snapshot)."""

    repo: Repo | RepoSnap
    commit: CommitRow
    tree: FileTree
    card: dict[str, Any]
    tags: list[str]
    meta: RepoMeta
    likes: int
    downloads: tuple[int, int]  # last 30 days, all time


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
    counter: DownloadCounter | None = None,
) -> tuple[list[RepoSummary], int]:
    """One page of the repos ``principal`` may read, and how many match in all. ``search`` is a case-insensitive
    substring of the id, ``filters`` tags that must all be present (or the library name); ``sort`` also by
    ``downloads`` (last 30 days, from ``counter``) or ``likes``."""

    def service_downloads(db: Session, pks: list[int]) -> dict[int, tuple[int, int]]:
        return counter.counts(db, pks) if counter is not None else {}

    stmt = select(Repo).where(Repo.type == repo_type, readable_clause(principal))
    if author:
        stmt = stmt.where(func.lower(Repo.namespace) == author.lower())
    if search:
        # autoescape: a "%" or "_" in the search text is matched literally, not as a LIKE wildcard
        stmt = stmt.where(
            func.lower(Repo.namespace + "/" + Repo.name).contains(search.lower(), autoescape=True)
        )
    order = SORT_COLUMNS.get(sort, Repo.last_modified)
    ascending = direction in ("1", "asc") or (sort == "id" and direction is None)
    stmt = stmt.order_by(order.asc() if ascending else order.desc(), Repo.id)
    matches: list[tuple[Repo, dict[str, Any], list[str], dict[str, Any]]] = []
    for repo in db.scalars(stmt):
        card = json.loads(repo.card_json or "{}")
        meta = json.loads(repo.meta_json or "{}")
        tags = meta.get("tags") or card_tags(card)
        library = meta.get("library_name") or card.get("library_name")
        if filters and not all(f in tags or f == library for f in filters):
            continue
        matches.append((repo, card, tags, meta))
    if sort in ("downloads", "likes"):  # counts live in other tables: order the matches by them
        pks = [r.id for r, _, _, _ in matches]
        if sort == "likes":
            counts = like_counts(db, pks)
        else:
            counts = {pk: c[0] for pk, c in service_downloads(db, pks).items()}
        matches.sort(key=lambda m: counts.get(m[0].id, 0), reverse=not ascending)
    page = matches[offset : offset + limit]
    pks = [r.id for r, _, _, _ in page]
    heads = dict(
        db.execute(
            select(Ref.repo_pk, Ref.commit_id).where(Ref.repo_pk.in_(pks), Ref.name == "refs/heads/main")
        ).all()
    )
    likes = like_counts(db, pks)
    downloads = service_downloads(db, pks)
    return [
        RepoSummary(r, card, tags, heads.get(r.id), meta, likes.get(r.id, 0), downloads.get(r.id, (0, 0)))
        for r, card, tags, meta in page
    ], len(matches)


def repo_detail(service: HubService, db: Session, repo: Repo | RepoSnap, commit_id: str) -> RepoDetail:
    row = service.commit_row(db, commit_id)
    if row is None:
        raise RuntimeError(f"commit {commit_id} of {repo.repo_id} is missing from the database")
    card = service.card_at(db, commit_id)
    tree = service.tree(db, row.tree_id)
    meta = metadata.compute(service.blobs, tree, row.tree_id, card, repo.type)
    likes = like_counts(db, [repo.id]).get(repo.id, 0)
    downloads = service.downloads.counts(db, [repo.id]).get(repo.id, (0, 0))
    return RepoDetail(repo, row, tree, card, meta.tags, meta, likes, downloads)


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
