"""Discussions and pull requests: a PR is a discussion whose head is the ref ``refs/pr/N``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from ..domain.accounts import Principal, can_write
from ..domain.discussions import (
    add_comment,
    add_event,
    diff_summary,
    events_of,
    find_discussions,
    get_discussion,
    merge_pr,
    open_discussion,
    require_author_or_writer,
    require_participant,
)
from ..domain.hub import HubService
from ..storage.db import Discussion, DiscussionEvent, Ref, Repo, iso
from . import _http as h
from . import limits
from .errors import ApiError, bad_request

router = APIRouter()
REPO = "/api/{plural:plural}/{namespace}/{name}"


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
    return get_discussion(db, repo, limits.int_param(num, "discussion number", 0, 0, limits.MAX_DB_INT))


@dataclass
class _Opened:
    """A discussion of a repo the caller may read, in an open database session."""

    p: Principal | None
    service: HubService
    db: Session
    repo: Repo
    disc: Discussion


@contextmanager
def _opened(request: Request, plural: str, namespace: str, name: str, num: str) -> Iterator[_Opened]:
    p = h.principal(request)
    rid = h.repo_id_from(namespace, name)
    service = h.hub(request)
    with service.sessions() as db:
        repo = service.readable_repo(db, p, h.PLURAL_TO_TYPE[plural], rid)
        yield _Opened(p, service, db, repo, _get(db, repo, num))


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
        count, rows = find_discussions(
            db,
            repo,
            kind=q.get("type") or "all",
            status=q.get("status") or "all",
            author=q.get("author"),
            page=page,
        )
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
            author = require_participant(p, repo, "open a pull request" if is_pr else "open a discussion")
            head = db.scalar(
                select(Ref.commit_id).where(Ref.repo_pk == repo.id, Ref.name == "refs/heads/main")
            )
            disc = open_discussion(
                db,
                repo,
                author=author.name,
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
    with _opened(request, plural, namespace, name, num) as o:
        service, db, repo, disc = o.service, o.db, o.repo, o.disc
        events = events_of(db, disc)
        out = discussion_json(disc, repo)
        out["events"] = [event_json(e) for e in events]
        if disc.is_pr:
            changes: dict[str, Any] = {"base": disc.target_ref}
            if disc.merge_commit:
                changes["mergeCommitId"] = disc.merge_commit
            out["changes"] = changes
            out["filesWithConflicts"] = []
            if request.query_params.get("diff") in ("1", "true"):
                out["diff"] = diff_summary(service, db, repo, disc)
    return h.json_response(out)


@router.post(REPO + "/discussions/{num}/comment", tags=["discussions"])
def comment(
    request: Request, body: h.JsonObject, plural: str, namespace: str, name: str, num: str
) -> Response:
    text = body.get("comment")
    if not isinstance(text, str) or not text:
        raise bad_request("Missing 'comment' in the request body.")
    with _opened(request, plural, namespace, name, num) as o:
        author = require_participant(o.p, o.repo, "comment")
        ev = add_comment(o.db, o.disc, author.name, text)
        o.db.commit()
        return h.json_response({"newMessage": event_json(ev)})


def _author_or_writer_change(
    request: Request, plural: str, namespace: str, name: str, num: str, action: str, key: str, change: Any
) -> Response:
    """A change of a discussion that its author or a repo writer may make: ``change(p, db, disc)`` applies it and
    returns its event, answered under ``key``."""
    with _opened(request, plural, namespace, name, num) as o:
        caller = require_author_or_writer(o.p, o.repo, o.disc, action)
        ev = change(caller, o.db, o.disc)
        o.db.commit()
        return h.json_response({key: event_json(ev)})


@router.post(REPO + "/discussions/{num}/status", tags=["discussions"])
def change_status(
    request: Request, body: h.JsonObject, plural: str, namespace: str, name: str, num: str
) -> Response:
    new = body.get("status")
    if new not in ("open", "closed"):
        raise bad_request(f"Invalid status {new!r}: expected 'open' or 'closed'.")
    comment = _optional_comment(body)

    def change(p: Principal, db: Session, disc: Discussion) -> DiscussionEvent:
        if disc.status == "merged":
            raise bad_request(f"PR #{num} is merged; its status cannot change.")
        disc.status = new
        ev = add_event(db, disc, "status-change", p.name, {"status": new})
        if comment:
            add_comment(db, disc, p.name, comment)
        return ev

    return _author_or_writer_change(
        request, plural, namespace, name, num, "change its status", "newStatus", change
    )


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
    assert p is not None  # writable_repo raised Unauthorized otherwise
    cid = merge_pr(service, repo, disc, p.name, _optional_comment(body))
    return h.json_response({"mergeCommitId": cid})


def _optional_comment(body: dict[str, Any]) -> str | None:
    comment = body.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise bad_request("'comment' must be a string.")
    return comment


@router.post(REPO + "/discussions/{num}/title", tags=["discussions"])
def rename(
    request: Request, body: h.JsonObject, plural: str, namespace: str, name: str, num: str
) -> Response:
    """Rename a discussion or PR (its author or a writer): a ``title-change`` event."""
    title = body.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > 1000:
        raise bad_request("'title' must be a non-empty string of at most 1000 characters.")

    def change(p: Principal, db: Session, disc: Discussion) -> DiscussionEvent:
        old, disc.title = disc.title, title.strip()
        return add_event(db, disc, "title-change", p.name, {"from": old, "to": disc.title})

    return _author_or_writer_change(request, plural, namespace, name, num, "rename it", "newTitle", change)


def _comment_event(db: Session, disc: Discussion, comment_id: str) -> DiscussionEvent:
    ev = None
    if comment_id.isascii() and comment_id.isdigit() and len(comment_id) < 12:
        ev = db.get(DiscussionEvent, int(comment_id))
    if ev is None or ev.discussion_id != disc.id or ev.type != "comment":
        raise ApiError(404, f"No comment {comment_id[:40]!r} in #{disc.num}.", "CommentNotFound")
    return ev


def _change_comment(
    request: Request,
    plural: str,
    namespace: str,
    name: str,
    num: str,
    comment_id: str,
    action: str,
    change: Any,
) -> Response:
    """Load the comment, check that the caller may take part, let ``change(p, repo, ev, data)`` refuse or update
    its data, store it: the event keeps its author."""
    with _opened(request, plural, namespace, name, num) as o:
        ev = _comment_event(o.db, o.disc, h.seg(comment_id))
        caller = require_participant(o.p, o.repo, action)
        data = json.loads(ev.data_json)
        change(caller, o.repo, ev, data)
        ev.data_json = json.dumps(data)
        o.db.commit()
        return h.json_response({"updatedComment": event_json(ev)})


@router.post(REPO + "/discussions/{num}/comment/{comment_id}/edit", tags=["discussions"])
def edit_comment(
    request: Request, body: h.JsonObject, plural: str, namespace: str, name: str, num: str, comment_id: str
) -> Response:
    """Edit a comment: its author only (as on the Hub). ``edited`` becomes true."""
    content = body.get("content")
    if not isinstance(content, str) or not content:
        raise bad_request("Missing 'content' (the new text of the comment) in the request body.")

    def edit(p: Principal, repo: Repo, ev: DiscussionEvent, data: dict[str, Any]) -> None:
        if ev.author.lower() != p.name.lower():
            raise ApiError(403, "Only the author of a comment may edit it.", "Forbidden")
        if data.get("hidden"):
            raise bad_request("This comment is hidden; it cannot be edited.")
        data.update(edited=True, latest={"raw": content}, numEdits=int(data.get("numEdits", 0)) + 1)

    return _change_comment(request, plural, namespace, name, num, comment_id, "edit a comment", edit)


@router.post(REPO + "/discussions/{num}/comment/{comment_id}/hide", tags=["discussions"])
def hide_comment(
    request: Request, plural: str, namespace: str, name: str, num: str, comment_id: str
) -> Response:
    """Hide a comment (irreversible, its text is dropped): a writer of the repo, or the comment's author."""

    def hide(p: Principal, repo: Repo, ev: DiscussionEvent, data: dict[str, Any]) -> None:
        if not can_write(p, repo) and ev.author.lower() != p.name.lower():
            raise ApiError(403, "Only a writer of the repo or the comment's author may hide it.", "Forbidden")
        data.update(hidden=True, latest={"raw": ""}, hiddenBy=p.name)

    return _change_comment(request, plural, namespace, name, num, comment_id, "hide a comment", hide)
