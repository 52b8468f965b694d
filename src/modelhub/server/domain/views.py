"""Read models: the queries behind what the hub shows, shared by the JSON API (``api/``) and the web pages
(``web/``). Each returns plain data; the callers shape it into JSON or HTML."""

from __future__ import annotations

import difflib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..caches import MISS
from ..storage.db import Account, Discussion, Membership, Ref, Repo
from . import metadata
from .accounts import Principal, can_create_in, org_names
from .community import like_counts
from .downloads import DownloadCounter
from .hub import CommitRow, HubService, RepoSnap
from .metadata import RepoMeta
from .objects import readable_clause
from .trees import Entry, FileTree, card_tags


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
    pipeline_tag: str | None = None,
    sort: str = "lastModified",
    direction: str | None = None,
    offset: int = 0,
    limit: int = 1000,
    counter: DownloadCounter | None = None,
) -> tuple[list[RepoSummary], int]:
    """One page of the repos ``principal`` may read, and how many match in all. ``search`` is a case-insensitive
    substring of the id, ``filters`` tags that must all be present (or the library name), ``pipeline_tag`` the
    task the repo's metadata names; ``sort`` also by
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
        if pipeline_tag and (meta.get("pipeline_tag") or card.get("pipeline_tag")) != pipeline_tag:
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


def repo_detail(
    service: HubService,
    db: Session,
    repo: Repo | RepoSnap,
    commit_id: str,
    principal: Principal | None = None,
) -> RepoDetail:
    """Everything repo info shows at a commit. ``principal``: the caller, whose token brought the write
    generation that the cached like count is checked against (``HubService.sync_caches``)."""
    row = service.commit_row(db, commit_id)
    if row is None:
        raise RuntimeError(f"commit {commit_id} of {repo.repo_id} is missing from the database")
    card = service.card_at(db, commit_id)
    tree = service.tree(db, row.tree_id)
    meta = metadata.compute(service.content, tree, row.tree_id, card, repo.type)
    likes = _like_count(service, db, repo.id, principal)
    downloads = service.downloads.counts(db, [repo.id]).get(repo.id, (0, 0))
    return RepoDetail(repo, row, tree, card, meta.tags, meta, likes, downloads)


def _like_count(service: HubService, db: Session, repo_pk: int, principal: Principal | None) -> int:
    """The repo's likes, from the hot cache when no process wrote since (likes are written through Sessions,
    which bump the write generation)."""
    service.sync_caches(principal)
    key = ("likes", repo_pk)
    hit = service.hot.get(key)
    if hit is not MISS:
        return hit
    gen = service.hot.gen
    count = like_counts(db, [repo_pk]).get(repo_pk, 0)
    service.hot.put(key, count, gen)
    return count


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


# --- the web pages' read models ------------------------------------------------------------------------------


def find_account(db: Session, name: str) -> Account | None:
    return db.scalar(select(Account).where(Account.name == name))


def org_members(db: Session, org: Account) -> list[str]:
    rows = db.execute(
        select(Account.name)
        .join(Membership, Membership.user_id == Account.id)
        .where(Membership.org_id == org.id)
    )
    return sorted(r[0] for r in rows)


def writable_namespaces(db: Session, principal: Principal) -> list[str]:
    """The namespaces ``principal`` may create repos in: its own, then its organizations (or all, for an admin)."""
    names = [principal.name] + org_names(db, principal.user_id)
    return [n for n in dict.fromkeys(names) if can_create_in(principal, n)]


@dataclass(frozen=True)
class RepoNav:
    """What every repo page shows in its header: branches and tags (for the selector), open discussions."""

    branches: list[str]
    tags: list[str]
    open_discussions: int


def repo_nav(db: Session, repo: Repo) -> RepoNav:
    refs = [name for name, _ in refs_of(db, repo)]
    opened = db.scalar(
        select(func.count())
        .select_from(Discussion)
        .where(Discussion.repo_pk == repo.id, Discussion.status.in_(["open", "draft"]))
    )
    return RepoNav(
        [r.removeprefix("refs/heads/") for r in refs if r.startswith("refs/heads/")],
        [r.removeprefix("refs/tags/") for r in refs if r.startswith("refs/tags/")],
        int(opened or 0),
    )


@dataclass(frozen=True)
class RepoOverview:
    """What the repo page shows besides the card: size and file count at the revision."""

    detail: RepoDetail
    size: int
    files: int


def repo_overview(service: HubService, db: Session, repo: Repo, commit_id: str) -> RepoOverview:
    detail = repo_detail(service, db, repo, commit_id)
    return RepoOverview(detail, sum(e.size for e in detail.tree.values()), len(detail.tree))


@dataclass(frozen=True)
class FolderEntry:
    path: str
    is_dir: bool
    entry: Entry | None  # None for a folder
    last_commit: CommitRow | None

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


def folder_listing(service: HubService, db: Session, commit_id: str, path: str) -> list[FolderEntry] | None:
    """The entries of one folder at a commit, folders first, each with the last commit that changed it; None when
    ``path`` is not a folder. Derived from an immutable commit, so computed once per (commit, folder)."""
    key = ("folder", commit_id, path)
    hit = service.caches.derived.get(key)
    if hit is not None:
        return hit
    listing = service.listing(db, commit_id, path, False)
    if listing is None or (path and len(listing) == 1 and listing[0]["path"] == path):
        return None
    lasts = last_changed(service, db, commit_id, {e["path"] for e in listing})
    tree = service.commit_tree(db, commit_id)
    out = [
        FolderEntry(e["path"], e["type"] == "directory", tree.get(e["path"]), lasts.get(e["path"]))
        for e in listing
    ]
    out.sort(key=lambda f: (not f.is_dir, f.path.lower()))
    service.caches.derived.put(key, out)
    return out


def history_page(
    service: HubService, db: Session, repo: Repo, head: str, offset: int, limit: int
) -> tuple[list[CommitRow], int]:
    """One page of the commits reachable from ``head``, newest first, and how many there are. The history of a
    commit never changes, so it is computed once per head (``caches.histories``)."""
    history = service.caches.histories.get(head)
    if history is None:
        history = service.history(db, repo, head)
        service.caches.histories.put(head, history)
    return history[offset : offset + limit], len(history)


@dataclass(frozen=True)
class Change:
    """One path that differs between two trees: ``added``, ``deleted`` or ``modified``."""

    path: str
    status: str
    old: Entry | None
    new: Entry | None


def tree_changes(old: FileTree, new: FileTree) -> list[Change]:
    out = [Change(p, "deleted", old[p], None) for p in old.keys() - new.keys()]
    out += [Change(p, "added", None, new[p]) for p in new.keys() - old.keys()]
    out += [Change(p, "modified", old[p], new[p]) for p in old.keys() & new.keys() if old[p] != new[p]]
    return sorted(out, key=lambda c: c.path)


def commit_changes(service: HubService, db: Session, commit: CommitRow) -> list[Change]:
    """What ``commit`` changed against its first parent (everything is added for a root commit)."""
    before = service.commit_tree(db, commit.parents[0]) if commit.parents else {}
    return tree_changes(before, service.tree(db, commit.tree_id))


MAX_DIFF_FILE = 512 * 1024  # larger files get no line diff (a diff of them is not readable anyway)
MAX_DIFF_LINES = 2000


def text_of(service: HubService, entry: Entry | None, limit: int = MAX_DIFF_FILE) -> str | None:
    """The content of a small text file ("" for none), None when it is large, stored as LFS or binary."""
    if entry is None:
        return ""
    if entry.lfs or entry.size > limit:
        return None
    data = b"".join(service.content.iter_range(entry.sha256, 0, entry.size))
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def text_diff(service: HubService, change: Change, context: int = 3) -> list[str] | None:
    """The unified diff of a changed text file (lines without their newline, at most ``MAX_DIFF_LINES``); None
    when either side is not a small text file."""
    a, b = text_of(service, change.old), text_of(service, change.new)
    if a is None or b is None:
        return None
    diff = difflib.unified_diff(a.splitlines(), b.splitlines(), lineterm="", n=context)
    return list(itertools.islice(diff, 2, MAX_DIFF_LINES + 2))  # the first two are the ---/+++ file lines


@dataclass(frozen=True)
class PullRequestView:
    """A PR's head commit, its own commits (newest first) and its changes since it branched off its target."""

    head: str | None
    commits: list[CommitRow]
    changes: list[Change]


def pull_request_view(
    service: HubService, db: Session, repo: Repo, disc: Discussion, commit_ids: list[str]
) -> PullRequestView:
    """``commit_ids``: the PR's commits, oldest first (its ``commit`` events). The changes are those of the PR
    itself (its head against the parent of its first commit), whether or not the target moved since."""
    head = db.scalar(select(Ref.commit_id).where(Ref.repo_pk == repo.id, Ref.name == f"refs/pr/{disc.num}"))
    rows = [
        r for r in (service.commit_row(db, c) for c in commit_ids) if r is not None and r.repo_pk == repo.id
    ]
    if head is None or not rows:
        return PullRequestView(head, rows[::-1], [])
    fork = rows[0].parents[0] if rows[0].parents else None
    before = service.commit_tree(db, fork) if fork else {}
    return PullRequestView(head, rows[::-1], tree_changes(before, service.commit_tree(db, head)))


@dataclass(frozen=True)
class Facets:
    """Filter values of the readable repos of one type, with how many repos have each (most common first)."""

    libraries: list[tuple[str, int]]
    pipeline_tags: list[tuple[str, int]]
    licenses: list[tuple[str, int]]
    tags: list[tuple[str, int]]


def repo_facets(db: Session, principal: Principal | None, repo_type: str, top: int = 12) -> Facets:
    counters: dict[str, dict[str, int]] = {"library": {}, "pipeline": {}, "license": {}, "tag": {}}

    def bump(kind: str, value: Any) -> None:
        if isinstance(value, str) and value and len(value) <= 100:
            counters[kind][value] = counters[kind].get(value, 0) + 1

    stmt = select(Repo.card_json).where(Repo.type == repo_type, readable_clause(principal))
    for raw in db.scalars(stmt):
        card = json.loads(raw or "{}")
        bump("library", card.get("library_name"))
        bump("pipeline", card.get("pipeline_tag"))
        bump("license", card.get("license"))
        tags = card.get("tags")
        for tag in [tags] if isinstance(tags, str) else tags if isinstance(tags, list) else []:
            bump("tag", tag)

    def most(kind: str) -> list[tuple[str, int]]:
        return sorted(counters[kind].items(), key=lambda kv: (-kv[1], kv[0]))[:top]

    return Facets(most("library"), most("pipeline"), most("license"), most("tag"))


def changed_paths(service: HubService, db: Session, commit: CommitRow) -> frozenset[str]:
    """The files ``commit`` added, removed or changed against its first parent, and every folder above them
    (a folder changes when anything below it does). Cached per commit: commits are immutable."""
    key = ("changed", commit.id)
    hit = service.caches.derived.get(key)
    if hit is not None:
        return hit
    after = service.tree(db, commit.tree_id)
    parent = service.commit_row(db, commit.parents[0]) if commit.parents else None
    before = service.tree(db, parent.tree_id) if parent is not None else {}
    out: set[str] = set()
    if parent is None or parent.tree_id != commit.tree_id:
        for path in after.keys() | before.keys():
            if before.get(path) != after.get(path):
                out.add(path)
                parts = path.split("/")
                out.update("/".join(parts[:i]) for i in range(1, len(parts)))
    result = frozenset(out)
    service.caches.derived.put(key, result)
    return result


def last_changed(
    service: HubService, db: Session, head: str, paths: set[str], max_steps: int = 20_000
) -> dict[str, CommitRow]:
    """For each path (file or folder), the newest commit on the first-parent line of ``head`` that changed it.

    Walks the history once for all paths, comparing each commit with its parent (cached per commit), so a folder
    of a repo with a long history costs one pass, and later pages (other folders, other revisions sharing the
    history) reuse the comparisons. A path still undecided after ``max_steps`` commits is left out."""
    result: dict[str, CommitRow] = {}
    pending = set(paths)
    cur = service.commit_row(db, head)
    for _ in range(max_steps):
        if cur is None or not pending:
            break
        found = pending & changed_paths(service, db, cur)
        for path in found:
            result[path] = cur
        pending -= found
        cur = service.commit_row(db, cur.parents[0]) if cur.parents else None
    return result
