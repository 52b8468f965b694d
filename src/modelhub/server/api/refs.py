"""Refs and history: list refs, list commits, create / delete branches and tags."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..._common.validation import is_commit_hash
from ..domain import views
from ..domain.accounts import Principal
from ..domain.hub import branch_ref
from ..storage.db import iso
from . import _http as h
from . import limits
from .errors import bad_request, forbidden
from .paging import decode_cursor, encode_cursor

router = APIRouter()
REPO = "/api/{plural:plural}/{namespace}/{name}"


@router.get(REPO + "/refs", tags=["refs"])
def list_refs(request: Request, plural: str, namespace: str, name: str) -> Response:
    """Branches, tags (and ``pullRequests`` with ``include_prs=1``)."""
    p = h.principal(request)
    rid = h.repo_id_from(namespace, name)
    service = h.hub(request)
    with service.sessions() as db:
        repo = service.readable_repo(db, p, h.PLURAL_TO_TYPE[plural], rid)
        refs = views.refs_of(db, repo)
    out: dict[str, list[dict[str, str]]] = {"branches": [], "tags": [], "converts": []}
    prs: list[dict[str, str]] = []
    for ref, cid in refs:
        for prefix, key in (("refs/heads/", "branches"), ("refs/tags/", "tags"), ("refs/pr/", None)):
            if ref.startswith(prefix):
                item = {"name": ref[len(prefix) :], "ref": ref, "targetCommit": cid}
                (prs if key is None else out[key]).append(item)
    if request.query_params.get("include_prs") in ("1", "true", "True"):
        out["pullRequests"] = sorted(prs, key=lambda i: int(i["name"]))
    return h.json_response(out)


@router.get(REPO + "/commits/{revision}", tags=["refs"])
def list_commits(request: Request, plural: str, namespace: str, name: str, revision: str) -> Response:
    """Commits reachable from a revision, newest first, paginated with ``Link``."""
    p = h.principal(request)
    rid = h.repo_id_from(namespace, name)
    rev = h.revision_from(revision)
    service = h.hub(request)
    q = request.query_params
    offset = decode_cursor(q.get("cursor"))
    limit = h.settings(request).page_size
    limit = max(1, min(limits.int_param(q.get("limit"), "limit", limit, 0, limits.MAX_OFFSET), limit))
    with service.sessions() as db:
        repo = service.readable_repo(db, p, h.PLURAL_TO_TYPE[plural], rid)
        head = service.resolve(db, repo, rev)
        history = service.history(db, repo, head)
    formatted = "formatted" in " ".join(q.getlist("expand[]") + q.getlist("expand"))
    items = []
    for c in history[offset : offset + limit]:
        item: dict[str, Any] = {
            "id": c.id,
            "title": c.title,
            "message": c.message,
            "date": iso(c.created_at),
            "authors": [{"user": c.author, "avatar": None}],
            "parents": list(c.parents),
        }
        if formatted:
            item["formatted"] = {"title": c.title, "message": c.message}
        items.append(item)
    headers = {}
    if offset + limit < len(history):
        params = [(k, v) for k, v in q.multi_items() if k != "cursor"] + [
            ("cursor", encode_cursor(offset + limit))
        ]
        url = f"{h.base_url(request)}/api/{plural}/{rid}/commits/{quote(head, safe='')}?{urlencode(params)}"
        headers["Link"] = f'<{url}>; rel="next"'
    return h.json_response(items, headers=headers)


@router.post(REPO + "/branch/{branch}", tags=["refs"])
def create_branch(
    request: Request, body: h.JsonObject, plural: str, namespace: str, name: str, branch: str
) -> Response:
    """Create a branch at ``startingPoint`` (default: head of ``main``); 409 if it exists."""
    p = h.principal(request)
    rid = h.repo_id_from(namespace, name)
    bname = h.revision_from(branch)
    if bname.startswith("refs/") or is_commit_hash(bname):
        raise bad_request(
            f"Invalid branch name {bname!r}: it may not start with 'refs/' or look like a commit id."
        )
    service = h.hub(request)
    with service.sessions() as db:
        repo = service.writable_repo(db, p, h.PLURAL_TO_TYPE[plural], rid)
        start = body.get("startingPoint") or "main"
        cid = service.resolve(db, repo, h.revision_from(quote(str(start), safe="")))
        service.create_ref(db, repo, branch_ref(bname), cid, f"Branch {bname!r}")
    return h.json_response({"name": bname, "ref": branch_ref(bname), "targetCommit": cid})


@router.delete(REPO + "/branch/{branch}", tags=["refs"])
def delete_branch(request: Request, plural: str, namespace: str, name: str, branch: str) -> Response:
    p = h.principal(request)
    rid = h.repo_id_from(namespace, name)
    bname = h.revision_from(branch)
    if bname == "main":
        raise forbidden(f"Cannot delete the default branch 'main' of {rid!r}.")
    return _delete_ref(request, p, plural, rid, f"refs/heads/{bname}", bname)


def _delete_ref(
    request: Request, p: Principal | None, plural: str, rid: str, ref: str, label: str
) -> Response:
    service = h.hub(request)
    with service.sessions() as db:
        repo = service.writable_repo(db, p, h.PLURAL_TO_TYPE[plural], rid)
        service.delete_ref(db, repo, ref, label)
    return h.json_response({"deleted": ref})


@router.post(REPO + "/tag/{revision}", tags=["refs"])
def create_tag(
    request: Request, body: h.JsonObject, plural: str, namespace: str, name: str, revision: str
) -> Response:
    """Tag ``revision`` with ``{"tag": ..., "message"?: ...}``; 409 if the tag exists."""
    p = h.principal(request)
    rid = h.repo_id_from(namespace, name)
    rev = h.revision_from(revision)
    tag = body.get("tag")
    if not isinstance(tag, str) or not tag:
        raise bad_request("Missing 'tag' in the request body.")
    tag = h.revision_from(quote(tag, safe=""))
    if tag.startswith("refs/") or is_commit_hash(tag):
        raise bad_request(
            f"Invalid tag name {tag!r}: it may not start with 'refs/' or look like a commit id."
        )
    service = h.hub(request)
    with service.sessions() as db:
        repo = service.writable_repo(db, p, h.PLURAL_TO_TYPE[plural], rid)
        cid = service.resolve(db, repo, rev)
        service.create_ref(db, repo, f"refs/tags/{tag}", cid, f"Tag {tag!r}")
    return h.json_response({"name": tag, "ref": f"refs/tags/{tag}", "targetCommit": cid})


@router.delete(REPO + "/tag/{tag}", tags=["refs"])
def delete_tag(request: Request, plural: str, namespace: str, name: str, tag: str) -> Response:
    p = h.principal(request)
    rid = h.repo_id_from(namespace, name)
    t = h.revision_from(tag)
    return _delete_ref(request, p, plural, rid, f"refs/tags/{t}", t)
