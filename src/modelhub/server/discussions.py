"""Discussions and pull requests: a PR is a discussion whose head is the ref ``refs/pr/N``."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from starlette.responses import Response

from . import _http as h
from . import limits
from .accounts import Principal
from .db import Discussion, DiscussionEvent, Ref, Repo, iso
from .errors import ApiError, bad_request
from .service import Conflict, HubService

router = APIRouter()
REPO = "/api/{plural:plural}/{namespace}/{name}"


def allocate_num(db: Session, repo_pk: int) -> int:
    """Next discussion number of a repo, allocated inside the caller's transaction."""
    db.execute(update(Repo).where(Repo.id == repo_pk).values(next_num=Repo.next_num + 1))
    return int(db.scalar(select(Repo.next_num).where(Repo.id == repo_pk))) - 1


def add_event(db: Session, disc: Discussion, kind: str, author: str, data: dict[str, Any]) -> DiscussionEvent:
    ev = DiscussionEvent(discussion_id=disc.id, type=kind, author=author, data_json=json.dumps(data))
    db.add(ev)
    db.flush()
    return ev


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
        add_event(
            db, disc, "comment", author, {"edited": False, "hidden": False, "latest": {"raw": description}}
        )
    if is_pr and head is not None:
        db.add(Ref(repo_pk=repo.id, name=f"refs/pr/{num}", commit_id=head))
        db.flush()
    return disc


def event_json(ev: DiscussionEvent) -> dict[str, Any]:
    return {
        "id": str(ev.id),
        "type": ev.type,
        "createdAt": iso(ev.created_at),
        "author": {"name": ev.author, "type": "user"},
        "data": json.loads(ev.data_json),
    }


def discussion_json(disc: Discussion, repo: Repo) -> dict[str, Any]:
    return {
        "num": disc.num,
        "title": disc.title,
        "status": disc.status,
        "isPullRequest": disc.is_pr,
        "createdAt": iso(disc.created_at),
        "author": {"name": disc.author, "type": "user"},
        "repo": {"name": repo.repo_id, "type": repo.type},
        "pinned": False,
        "numComments": 0,
        "topReactions": [],
    }


def _get(db: Session, repo: Repo, num: str) -> Discussion:
    n = limits.int_param(num, "discussion number", 0, 0, limits.MAX_DB_INT)
    disc = db.scalar(select(Discussion).where(Discussion.repo_pk == repo.id, Discussion.num == n))
    if disc is None:
        raise ApiError(404, f"Discussion #{num} not found in {repo.repo_id!r}.", "DiscussionNotFound")
    return disc


@router.get(REPO + "/discussions", tags=["discussions"])
def list_discussions(request: Request, plural: str, namespace: str, name: str) -> Response:
    """Discussions and PRs, 50 per page (``p``), filtered by ``type``, ``status``, ``author``."""
    p = h.principal(request)
    rid = h.repo_id_from(namespace, name)
    q = request.query_params
    page = limits.int_param(q.get("p"), "page number p", 0, 0, limits.MAX_DB_INT // 50)
    service = h.hub(request)
    with service.sessions() as db:
        repo = service.readable_repo(db, p, h.PLURAL_TO_TYPE[plural], rid)
        stmt = select(Discussion).where(Discussion.repo_pk == repo.id)
        kind = q.get("type") or "all"
        if kind == "pull_request":
            stmt = stmt.where(Discussion.is_pr.is_(True))
        elif kind == "discussion":
            stmt = stmt.where(Discussion.is_pr.is_(False))
        status = q.get("status") or "all"
        if status == "open":
            stmt = stmt.where(Discussion.status.in_(["open", "draft"]))
        elif status == "closed":
            stmt = stmt.where(Discussion.status.in_(["closed", "merged"]))
        if q.get("author"):
            stmt = stmt.where(Discussion.author == q["author"])
        count = db.scalar(select(func.count()).select_from(stmt.subquery()))
        rows = db.scalars(stmt.order_by(Discussion.num.desc()).offset(page * 50).limit(50)).all()
        items = [discussion_json(d, repo) for d in rows]
    return h.json_response(
        {"discussions": items, "count": count, "start": page * 50, "numClosedDiscussions": 0}
    )


@router.post(REPO + "/discussions", tags=["discussions"])
def create_discussion(
    request: Request, body: h.JsonObject, plural: str, namespace: str, name: str
) -> Response:
    """Open a discussion, or a (draft) PR with ``pullRequest: true`` whose ``refs/pr/N`` starts at ``main``."""
    p = h.principal(request)
    rid = h.repo_id_from(namespace, name)
    title = body.get("title")
    if not isinstance(title, str) or not title.strip():
        raise bad_request("Missing 'title' in the request body.")
    is_pr = bool(body.get("pullRequest"))
    service = h.hub(request)

    def work() -> dict[str, Any]:
        with service.sessions() as db:
            repo = service.readable_repo(db, p, h.PLURAL_TO_TYPE[plural], rid)
            if p is None:
                raise ApiError(401, "Authentication required to open a discussion.", "Unauthorized")
            if is_pr and not p.can_write:
                raise ApiError(403, "Opening a pull request needs a write token.", "Forbidden")
            head = db.scalar(
                select(Ref.commit_id).where(Ref.repo_pk == repo.id, Ref.name == "refs/heads/main")
            )
            disc = open_discussion(
                db,
                repo,
                author=p.name,
                title=title.strip(),
                description=str(body.get("description") or ""),
                is_pr=is_pr,
                head=head,
                status="draft" if is_pr else "open",
            )
            db.commit()
            return discussion_json(disc, repo)

    return h.json_response(work())


@router.get(REPO + "/discussions/{num}", tags=["discussions"])
def discussion_details(request: Request, plural: str, namespace: str, name: str, num: str) -> Response:
    """A discussion with its events; PRs add ``changes`` and ``filesWithConflicts``."""
    p = h.principal(request)
    rid = h.repo_id_from(namespace, name)
    service = h.hub(request)
    with service.sessions() as db:
        repo = service.readable_repo(db, p, h.PLURAL_TO_TYPE[plural], rid)
        disc = _get(db, repo, num)
        events = db.scalars(
            select(DiscussionEvent)
            .where(DiscussionEvent.discussion_id == disc.id)
            .order_by(DiscussionEvent.id)
        ).all()
        out = discussion_json(disc, repo)
        out["events"] = [event_json(e) for e in events]
        if disc.is_pr:
            changes: dict[str, Any] = {"base": disc.target_ref}
            if disc.merge_commit:
                changes["mergeCommitId"] = disc.merge_commit
            out["changes"] = changes
            out["filesWithConflicts"] = []
            if request.query_params.get("diff") in ("1", "true"):
                out["diff"] = _diff_summary(service, db, repo, disc)
    return h.json_response(out)


def _diff_summary(service: HubService, db: Session, repo: Repo, disc: Discussion) -> str:
    head = db.scalar(select(Ref.commit_id).where(Ref.repo_pk == repo.id, Ref.name == f"refs/pr/{disc.num}"))
    base = db.scalar(select(Ref.commit_id).where(Ref.repo_pk == repo.id, Ref.name == disc.target_ref))
    if head is None or base is None:
        return ""
    a, b = service.commit_tree(db, base), service.commit_tree(db, head)
    lines = [f"deleted {p}" for p in sorted(set(a) - set(b))]
    lines += [f"changed {p}" for p in sorted(b) if p in a and a[p] != b[p]]
    lines += [f"added {p}" for p in sorted(set(b) - set(a))]
    return "\n".join(lines)


@router.post(REPO + "/discussions/{num}/comment", tags=["discussions"])
def comment(
    request: Request, body: h.JsonObject, plural: str, namespace: str, name: str, num: str
) -> Response:
    p = h.principal(request)
    rid = h.repo_id_from(namespace, name)
    text = body.get("comment")
    if not isinstance(text, str) or not text:
        raise bad_request("Missing 'comment' in the request body.")
    service = h.hub(request)
    with service.sessions() as db:
        repo = service.readable_repo(db, p, h.PLURAL_TO_TYPE[plural], rid)
        if p is None:
            raise ApiError(401, "Authentication required to comment.", "Unauthorized")
        disc = _get(db, repo, num)
        ev = add_event(
            db, disc, "comment", p.name, {"edited": False, "hidden": False, "latest": {"raw": text}}
        )
        db.commit()
        return h.json_response({"newMessage": event_json(ev)})


@router.post(REPO + "/discussions/{num}/status", tags=["discussions"])
def change_status(
    request: Request, body: h.JsonObject, plural: str, namespace: str, name: str, num: str
) -> Response:
    p = h.principal(request)
    rid = h.repo_id_from(namespace, name)
    new = body.get("status")
    if new not in ("open", "closed"):
        raise bad_request(f"Invalid status {new!r}: expected 'open' or 'closed'.")
    service = h.hub(request)
    with service.sessions() as db:
        repo = service.readable_repo(db, p, h.PLURAL_TO_TYPE[plural], rid)
        disc = _get(db, repo, num)
        if p is None or (p.name != disc.author and not _can_write(p, repo)):
            raise ApiError(403, "Only the author or a repo writer may change the status.", "Forbidden")
        if disc.status == "merged":
            raise bad_request(f"PR #{num} is merged; its status cannot change.")
        disc.status = new
        ev = add_event(db, disc, "status-change", p.name, {"status": new})
        if body.get("comment"):
            add_event(
                db,
                disc,
                "comment",
                p.name,
                {"edited": False, "hidden": False, "latest": {"raw": body["comment"]}},
            )
        db.commit()
        return h.json_response({"newStatus": event_json(ev)})


def _can_write(p: Principal, repo: Repo) -> bool:
    return p.can_write and p.member_of(repo.namespace)


@router.post(REPO + "/discussions/{num}/merge", tags=["discussions"])
def merge(request: Request, body: h.JsonObject, plural: str, namespace: str, name: str, num: str) -> Response:
    """Merge ``refs/pr/N`` into its base branch (fast-forward, or a merge commit when both changed)."""
    p = h.principal(request)
    rid = h.repo_id_from(namespace, name)
    service = h.hub(request)
    with service.sessions() as db:
        repo = service.writable_repo(db, p, h.PLURAL_TO_TYPE[plural], rid)
        disc = _get(db, repo, num)
        if not disc.is_pr:
            raise bad_request(f"#{num} is a discussion, not a pull request.")
        if disc.status not in ("open", "draft"):
            raise bad_request(f"PR #{num} is {disc.status}; only open PRs can be merged.")
    cid = merge_pr(service, repo, disc, p.name, body.get("comment"))
    return h.json_response({"mergeCommitId": cid})


def merge_pr(service: HubService, repo: Repo, disc: Discussion, author: str, comment: str | None) -> str:
    target = disc.target_ref
    for _ in range(20):
        with service.sessions() as db:
            head = db.scalar(
                select(Ref.commit_id).where(Ref.repo_pk == repo.id, Ref.name == f"refs/pr/{disc.num}")
            )
            base = db.scalar(select(Ref.commit_id).where(Ref.repo_pk == repo.id, Ref.name == target))
            if head is None or base is None:
                raise ApiError(
                    404, f"PR #{disc.num} or its base {target!r} no longer exists.", "RevisionNotFound"
                )
            current = db.get(Discussion, disc.id)
            if current is None or current.status not in ("open", "draft"):
                raise bad_request(f"PR #{disc.num} is no longer open; nothing to merge.")
            head_anc = service.ancestors(db, repo, head)
            if base in head_anc:  # fast-forward
                new = head
                n = db.execute(
                    update(Ref)
                    .where(Ref.repo_pk == repo.id, Ref.name == target, Ref.commit_id == base)
                    .values(commit_id=head)
                ).rowcount
                if n != 1:
                    db.rollback()
                    continue
                service.touch(db, repo, target, service.commit_tree(db, head))
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
                    raise ApiError(
                        409,
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
                except Conflict:
                    continue
            d = db.get(Discussion, disc.id)
            d.status = "merged"
            d.merge_commit = new
            add_event(db, d, "status-change", author, {"status": "merged"})
            if comment:
                add_event(
                    db, d, "comment", author, {"edited": False, "hidden": False, "latest": {"raw": comment}}
                )
            db.commit()
            return new
    raise ApiError(
        409, f"Could not merge PR #{disc.num}: the base branch keeps moving; retry.", "ConcurrentCommit"
    )
