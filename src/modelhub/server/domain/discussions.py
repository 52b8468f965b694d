"""Discussions and pull requests: a PR is a discussion whose head is the ref ``refs/pr/N``.

HTTP-free: numbering, events, the PR merge, and the queries the JSON routes (and web pages) show."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..storage.db import Discussion, DiscussionEvent, Ref, Repo
from .accounts import Principal, ReadableRepo, can_contribute, can_write
from .errors import (
    Conflict,
    NotFound,
    RevisionNotFound,
    Unauthorized,
    bad_request,
    forbidden,
    revision_not_found,
)
from .hub import HubService, RefMoved, branch_ref


def allocate_num(db: Session, repo_pk: int) -> int:
    """Next discussion number of a repo, allocated inside the caller's transaction."""
    db.execute(update(Repo).where(Repo.id == repo_pk).values(next_num=Repo.next_num + 1))
    return db.execute(select(Repo.next_num).where(Repo.id == repo_pk)).scalar_one() - 1


def add_event(db: Session, disc: Discussion, kind: str, author: str, data: dict[str, Any]) -> DiscussionEvent:
    ev = DiscussionEvent(discussion_id=disc.id, type=kind, author=author, data_json=json.dumps(data))
    db.add(ev)
    db.flush()
    return ev


def add_comment(db: Session, disc: Discussion, author: str, text: str) -> DiscussionEvent:
    """A comment event, in the shape the Hub answers (not edited, not hidden, its latest text)."""
    return add_event(db, disc, "comment", author, {"edited": False, "hidden": False, "latest": {"raw": text}})


def open_discussion(
    db: Session,
    repo: Repo,
    *,
    author: str,
    title: str,
    description: str,
    is_pr: bool,
    head: str | None,
    target: str = "refs/heads/main",
    status: str = "open",
) -> Discussion:
    num = allocate_num(db, repo.id)
    disc = Discussion(
        repo_pk=repo.id, num=num, title=title, author=author, is_pr=is_pr, status=status, target_ref=target
    )
    db.add(disc)
    db.flush()
    if description:
        add_comment(db, disc, author, description)
    if is_pr and head is not None:
        db.add(Ref(repo_pk=repo.id, name=f"refs/pr/{num}", commit_id=head))
        db.flush()
    return disc


def get_discussion(db: Session, repo: Repo, n: int) -> Discussion:
    disc = db.scalar(select(Discussion).where(Discussion.repo_pk == repo.id, Discussion.num == n))
    if disc is None:
        raise NotFound(f"Discussion #{n} not found in {repo.repo_id!r}.", "DiscussionNotFound")
    return disc


def find_discussions(
    db: Session, repo: Repo, *, kind: str, status: str, author: str | None, page: int, per_page: int = 50
) -> tuple[int, list[Discussion]]:
    """One page of a repo's discussions, newest first, and how many match: ``kind`` all | pull_request |
    discussion, ``status`` all | open (incl. draft) | closed (incl. merged)."""
    stmt = select(Discussion).where(Discussion.repo_pk == repo.id)
    if kind == "pull_request":
        stmt = stmt.where(Discussion.is_pr.is_(True))
    elif kind == "discussion":
        stmt = stmt.where(Discussion.is_pr.is_(False))
    if status == "open":
        stmt = stmt.where(Discussion.status.in_(["open", "draft"]))
    elif status == "closed":
        stmt = stmt.where(Discussion.status.in_(["closed", "merged"]))
    if author:
        stmt = stmt.where(Discussion.author == author)
    count = int(db.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = db.scalars(stmt.order_by(Discussion.num.desc()).offset(page * per_page).limit(per_page)).all()
    return count, list(rows)


def events_of(db: Session, disc: Discussion) -> list[DiscussionEvent]:
    return list(
        db.scalars(
            select(DiscussionEvent)
            .where(DiscussionEvent.discussion_id == disc.id)
            .order_by(DiscussionEvent.id)
        )
    )


def diff_summary(service: HubService, db: Session, repo: Repo, disc: Discussion) -> str:
    head = db.scalar(select(Ref.commit_id).where(Ref.repo_pk == repo.id, Ref.name == f"refs/pr/{disc.num}"))
    base = db.scalar(select(Ref.commit_id).where(Ref.repo_pk == repo.id, Ref.name == disc.target_ref))
    if head is None or base is None:
        return ""
    a, b = service.commit_tree(db, base), service.commit_tree(db, head)
    lines = [f"deleted {p}" for p in sorted(set(a) - set(b))]
    lines += [f"changed {p}" for p in sorted(b) if p in a and a[p] != b[p]]
    lines += [f"added {p}" for p in sorted(set(b) - set(a))]
    return "\n".join(lines)


def merge_pr(service: HubService, repo: Repo, disc: Discussion, author: str, comment: str | None) -> str:
    """Merge ``refs/pr/N`` into its base: fast-forward, or a merge commit when both changed (refused on
    conflicting paths); the base moves by the same compare-and-swap as commits (``HubService.swap_ref``)."""
    target = disc.target_ref
    for _ in range(20):
        with service.sessions() as db:
            head = db.scalar(
                select(Ref.commit_id).where(Ref.repo_pk == repo.id, Ref.name == f"refs/pr/{disc.num}")
            )
            base = db.scalar(select(Ref.commit_id).where(Ref.repo_pk == repo.id, Ref.name == target))
            if head is None or base is None:
                raise RevisionNotFound(f"PR #{disc.num} or its base {target!r} no longer exists.")
            current = db.get(Discussion, disc.id)
            if current is None or current.status not in ("open", "draft"):
                raise bad_request(f"PR #{disc.num} is no longer open; nothing to merge.")
            head_anc = service.ancestors(db, repo, head)
            if base in head_anc:  # fast-forward
                new = head
                try:
                    service.swap_ref(db, repo, target, base, head, service.commit_tree(db, head))
                except RefMoved:
                    continue
            else:
                base_anc = set(service.ancestors(db, repo, base))
                mbase = next((c for c in head_anc if c in base_anc), None)
                t_m = service.commit_tree(db, mbase) if mbase else {}
                t_h, t_b = service.commit_tree(db, head), service.commit_tree(db, base)
                merged = dict(t_b)
                conflicts = []
                for path in set(t_m) | set(t_h):
                    if t_m.get(path) == t_h.get(path):
                        continue  # the PR did not touch it
                    if t_b.get(path) not in (t_m.get(path), t_h.get(path)):
                        conflicts.append(path)
                    elif path in t_h:
                        merged[path] = t_h[path]
                    else:
                        merged.pop(path, None)
                if conflicts:
                    raise Conflict(
                        f"PR #{disc.num} conflicts with {target!r} on: {', '.join(sorted(conflicts)[:20])}.",
                        "MergeConflict",
                        extra={"filesWithConflicts": sorted(conflicts)},
                    )
                try:
                    new = service.land(
                        db,
                        repo,
                        target,
                        base,
                        merged,
                        author,
                        f"Merge pull request #{disc.num}",
                        disc.title,
                        head,
                    )
                except RefMoved:
                    continue
            d = db.get(Discussion, disc.id)
            d.status = "merged"
            d.merge_commit = new
            add_event(db, d, "status-change", author, {"status": "merged"})
            if comment:
                add_comment(db, d, author, comment)
            db.commit()
            return new
    raise Conflict(
        f"Could not merge PR #{disc.num}: the base branch keeps moving; retry.", "ConcurrentCommit"
    )


def commit_target(db: Session, repo: Repo, rev: str) -> str:
    """The ref a commit to ``rev`` moves: a branch or an open PR; tags and commit ids are refused."""
    if rev.startswith("refs/pr/"):
        disc_num = rev.removeprefix("refs/pr/")
        if db.get(Ref, (repo.id, rev)) is None or not disc_num.isdigit() or len(disc_num) > 9:
            raise revision_not_found(repo.repo_id, rev)
        disc = db.scalar(
            select(Discussion).where(Discussion.repo_pk == repo.id, Discussion.num == int(disc_num))
        )
        if disc is not None and disc.status not in ("open", "draft"):
            raise bad_request(f"PR #{disc_num} is {disc.status}: commit to an open PR or to a branch.")
        return rev
    ref = branch_ref(rev)
    if db.get(Ref, (repo.id, ref)) is not None and ref.startswith("refs/heads/"):
        return ref
    if db.get(Ref, (repo.id, f"refs/tags/{rev}")) is not None or ref.startswith("refs/tags/"):
        raise bad_request(f"Cannot commit to tag {rev!r}: commit to a branch, then move the tag.")
    raise revision_not_found(repo.repo_id, rev)


def pr_commit_hook(repo: Repo, ref_name: str, author: str, title: str) -> Callable[[Session, str], None]:
    """What a commit to ``refs/pr/N`` does in its transaction: a ``commit`` event, and a draft PR becomes open."""
    num = int(ref_name.removeprefix("refs/pr/"))

    def hook(db: Session, cid: str) -> None:
        disc = db.scalar(select(Discussion).where(Discussion.repo_pk == repo.id, Discussion.num == num))
        if disc is not None:
            add_event(db, disc, "commit", author, {"subject": title, "oid": cid})
            if disc.status == "draft":
                db.execute(update(Discussion).where(Discussion.id == disc.id).values(status="open"))

    return hook


# --- who may do what on a discussion (the web pages ask these; permissions come from accounts' rules) ----------


def can_merge(principal: Principal | None, repo: Repo) -> bool:
    """Merging moves the target branch: a writer of the repo."""
    return can_write(principal, repo)


def can_change_status(principal: Principal | None, repo: Repo, disc: Discussion) -> bool:
    """Closing or reopening: the author, or a writer of the repo (a merged PR stays merged)."""
    if principal is None or disc.status == "merged" or not can_contribute(principal, repo):
        return False
    return is_author(principal, disc) or can_write(principal, repo)


def can_comment(principal: Principal | None, repo: Repo) -> bool:
    """Anyone signed in who can read the repo with a write-capable token (the rule of require_participant)."""
    return principal is not None and can_contribute(principal, repo)


def comment(db: Session, disc: Discussion, author: str, text: str) -> DiscussionEvent:
    if not text.strip():
        raise bad_request("The comment is empty: write something first.")
    if len(text) > MAX_COMMENT:
        raise bad_request(f"The comment is longer than {MAX_COMMENT} characters.")
    ev = add_comment(db, disc, author, text)
    db.commit()
    return ev


def set_status(db: Session, disc: Discussion, author: str, status: str) -> None:
    if status not in ("open", "closed"):
        raise bad_request(f"Invalid status {status!r}: expected 'open' or 'closed'.")
    if disc.status == "merged":
        raise bad_request(f"#{disc.num} is merged; its status cannot change.")
    disc.status = status
    add_event(db, disc, "status-change", author, {"status": status})
    db.commit()


MAX_COMMENT = 65536


# --- who may do what (the Hub's rules for community contributions) ---------------------------------------------


def require_participant(p: Principal | None, repo: ReadableRepo, action: str) -> Principal:
    """Open a discussion or PR, comment, like: any signed-in reader with a write-capable token (a ``read`` token
    writes nothing, as on the Hub; a fine-grained one must cover the repo)."""
    if p is None:
        raise Unauthorized(f"Authentication required to {action}: pass a write token.")
    if not can_contribute(p, repo):
        raise forbidden(
            f"Your token {p.token_name!r} may not {action} on {repo.namespace}/{repo.name}: that needs a token with"
            " the 'write' role" + (" whose scopes cover this repo." if p.scopes is not None else ".")
        )
    return p


def is_author(p: Principal, disc: Discussion) -> bool:
    return disc.author.lower() == p.name.lower()


def require_author_or_writer(
    p: Principal | None, repo: ReadableRepo, disc: Discussion, action: str
) -> Principal:
    """Change a discussion (status, title): its author (still able to contribute) or a writer of the repo."""
    p = require_participant(p, repo, action)
    if not can_write(p, repo) and not is_author(p, disc):
        raise forbidden(f"Only the author of #{disc.num} or a writer of the repo may {action}.")
    return p


def check_commit_permission(
    db: Session, p: Principal | None, repo: Repo, ref_name: str, create_pr: bool
) -> None:
    """A commit that opens a PR: any contributor; to ``refs/pr/N``: the repo's writers and the PR's author; to a
    branch: writers only."""
    if create_pr:
        require_participant(p, repo, "open a pull request")
        return
    if p is not None and can_write(p, repo):
        return
    if ref_name.startswith("refs/pr/"):
        p = require_participant(p, repo, "push to a pull request")
        disc = db.scalar(
            select(Discussion).where(
                Discussion.repo_pk == repo.id, Discussion.num == int(ref_name.removeprefix("refs/pr/"))
            )
        )
        if disc is not None and is_author(p, disc):
            return
        raise forbidden(
            f"Only the author of PR #{disc.num if disc else '?'} or a writer of the repo may push to it."
        )
    if p is None:
        raise Unauthorized("Authentication required to commit: pass a write token.")
    raise forbidden(
        f"User {p.name!r} may not write to {ref_name.removeprefix('refs/heads/')!r} of"
        f" {repo.namespace}/{repo.name}: open a pull request instead (create_pr=True)."
    )
