"""Routes for teams and the community: gated-repo access requests, likes, organization members, user and
organization overviews, ``duplicate`` and ``super-squash``. Thin: the rules are in ``domain/`` (gating, community,
accounts, hub)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..._common.validation import validate_repo_id
from ...errors import HFValidationError
from ..domain import community, gating
from ..domain.accounts import AccountError, can_manage_org, remove_member, set_member_role
from ..domain.discussions import require_participant
from ..storage.db import Repo, iso
from . import _http as h
from .errors import ApiError, RepoExists, Unauthorized, bad_request
from .paging import paged

router = APIRouter()
REPO = "/api/{plural:plural}/{namespace}/{name}"


def _repo(request: Request, plural: str, namespace: str, name: str, write: bool = False) -> Repo:
    service = h.hub(request)
    rid = h.repo_id_from(namespace, name)
    with service.sessions() as db:
        find = service.writable_repo if write else service.readable_repo
        return find(db, h.principal(request), h.PLURAL_TO_TYPE[plural], rid)


# --- gated repos: access requests ---------------------------------------------------------------------------------


@router.post(REPO + "/ask-access", tags=["gated"])
def ask_access(request: Request, body: h.JsonObject, plural: str, namespace: str, name: str) -> Response:
    """Ask for the files of a gated repo (optional ``fields``: the answers of the gate form). ``auto`` gates
    accept at once; ``manual`` ones wait for a writer (``user-access-request/handle``)."""
    p = h.principal(request)
    repo = _repo(request, plural, namespace, name)
    if p is None:
        raise Unauthorized("Authentication required to ask for access: pass a token.")
    fields = gating.check_fields(body.get("fields"))
    with h.hub(request).sessions() as db:
        status = gating.ask(db, repo.id, repo.gated, p.user_id, fields)
        db.commit()
    return h.json_response({"status": status})


def _access_requests(request: Request, plural: str, namespace: str, name: str, status: str) -> Response:
    """The requests in one state (the repo's writers only)."""
    repo = _repo(request, plural, namespace, name, write=True)
    with h.hub(request).sessions() as db:
        rows = gating.listing(db, repo.id, status)
    return h.json_response(
        [
            {
                "requestId": str(r.id),
                "status": r.status,
                "timestamp": iso(r.created_at),
                "user": {"user": r.user, "fullname": r.fullname, "avatarUrl": ""},
                "fields": r.fields,
            }
            for r in rows
        ]
    )


# three routes, not one with a {status} parameter: .../handle and .../grant are POST-only URLs of their own
@router.get(REPO + "/user-access-request/pending", tags=["gated"])
def pending_access_requests(request: Request, plural: str, namespace: str, name: str) -> Response:
    return _access_requests(request, plural, namespace, name, "pending")


@router.get(REPO + "/user-access-request/accepted", tags=["gated"])
def accepted_access_requests(request: Request, plural: str, namespace: str, name: str) -> Response:
    return _access_requests(request, plural, namespace, name, "accepted")


@router.get(REPO + "/user-access-request/rejected", tags=["gated"])
def rejected_access_requests(request: Request, plural: str, namespace: str, name: str) -> Response:
    return _access_requests(request, plural, namespace, name, "rejected")


@router.post(REPO + "/user-access-request/handle", tags=["gated"])
def handle_access_request(
    request: Request, body: h.JsonObject, plural: str, namespace: str, name: str
) -> Response:
    """Accept, reject, or move back to pending one request (by ``user`` or ``requestId``)."""
    repo = _repo(request, plural, namespace, name, write=True)
    with h.hub(request).sessions() as db:
        gating.handle(db, repo.id, repo.gated, body)
        db.commit()
    return h.json_response({"status": body.get("status")})


@router.post(REPO + "/user-access-request/grant", tags=["gated"])
def grant_access(request: Request, body: h.JsonObject, plural: str, namespace: str, name: str) -> Response:
    """Give ``user`` access without a request of theirs."""
    repo = _repo(request, plural, namespace, name, write=True)
    with h.hub(request).sessions() as db:
        user = gating.grant(db, repo.id, repo.gated, body.get("user"))
        db.commit()
    return h.json_response({"user": user, "status": "accepted"})


# --- likes ----------------------------------------------------------------------------------------------------------


def _set_like(request: Request, plural: str, namespace: str, name: str, liked: bool) -> Response:
    repo = _repo(request, plural, namespace, name)
    p = require_participant(h.principal(request), repo, "like a repo" if liked else "unlike a repo")
    with h.hub(request).sessions() as db:
        (community.like if liked else community.unlike)(db, p.user_id, repo.id)
        db.commit()
    return h.json_response({"liked": liked})


@router.post(REPO + "/like", tags=["likes"])
def like(request: Request, plural: str, namespace: str, name: str) -> Response:
    return _set_like(request, plural, namespace, name, True)


@router.delete(REPO + "/like", tags=["likes"])
def unlike(request: Request, plural: str, namespace: str, name: str) -> Response:
    return _set_like(request, plural, namespace, name, False)


@router.get(REPO + "/likers", tags=["likes"])
def likers(request: Request, plural: str, namespace: str, name: str) -> Response:
    """Who liked the repo, paginated (``Link``)."""
    repo = _repo(request, plural, namespace, name)
    with h.hub(request).sessions() as db:
        users, headers = paged(request, lambda offset, limit: community.likers(db, repo.id, offset, limit))
    return h.json_response(
        [{"user": u.name, "fullname": u.fullname or u.name, "avatarUrl": "", "type": "user"} for u in users],
        headers=headers,
    )


@router.get("/api/users/{user}/likes", tags=["likes"])
def user_likes(request: Request, user: str) -> Response:
    """What a user liked, among the repos the caller can see, paginated (``Link``)."""
    p = h.principal(request)
    with h.hub(request).sessions() as db:
        rows, headers = paged(
            request, lambda offset, limit: community.liked_repos(db, p, h.seg(user), offset, limit)
        )
    return h.json_response(
        [{"createdAt": iso(at), "repo": {"name": r.repo_id, "type": r.type}} for r, at in rows],
        headers=headers,
    )


# --- accounts: overviews and organization members -------------------------------------------------------------------


@router.get("/api/users/{user}/overview", tags=["accounts"])
def user_overview(request: Request, user: str) -> Response:
    p = h.principal(request)
    with h.hub(request).sessions() as db:
        out = community.user_overview(db, p, h.seg(user))
    out["createdAt"] = iso(out["createdAt"])
    return h.json_response(out)


@router.get("/api/organizations/{org}/overview", tags=["accounts"])
def org_overview(request: Request, org: str) -> Response:
    p = h.principal(request)
    with h.hub(request).sessions() as db:
        return h.json_response(community.org_overview(db, p, h.seg(org)))


@router.get("/api/organizations/{org}/members", tags=["accounts"])
def org_members(request: Request, org: str) -> Response:
    """The members (``role`` shown to the org's own members), paginated (``Link``)."""
    p = h.principal(request)
    with h.hub(request).sessions() as db:
        members, headers = paged(
            request, lambda offset, limit: community.members_json(db, p, h.seg(org), offset, limit)
        )
    return h.json_response(members, headers=headers)


def _manage(request: Request, org: str, change: Any) -> Response:
    p = h.principal(request)
    name = h.seg(org)
    with h.hub(request).sessions() as db:
        community.user_account(db, name, "org")  # 404 before 401/403: org names are public
        if p is None:
            raise Unauthorized("Authentication required to manage an organization's members: pass a token.")
        if not can_manage_org(p, name):
            raise ApiError(
                403, f"Only admins of {name!r} (with a write token) manage its members.", "Forbidden"
            )
        try:
            change(db, name)
        except AccountError as exc:
            raise bad_request(str(exc)) from exc
        db.commit()
        return h.json_response(community.members_json(db, p, name))


@router.put("/api/organizations/{org}/members/{user}", tags=["accounts"])
def set_member(request: Request, body: h.JsonObject, org: str, user: str) -> Response:
    """Add a member or change its role (``role``: read, contributor, write or admin): org admins only."""
    role = body.get("role")
    if not isinstance(role, str):
        raise bad_request("Missing 'role' (read, contributor, write or admin) in the request body.")
    return _manage(request, org, lambda db, name: set_member_role(db, name, h.seg(user), role))


@router.delete("/api/organizations/{org}/members/{user}", tags=["accounts"])
def delete_member(request: Request, org: str, user: str) -> Response:
    return _manage(request, org, lambda db, name: remove_member(db, name, h.seg(user)))


# --- repo copies and history -----------------------------------------------------------------------------------------


@router.post(REPO + "/duplicate", tags=["repos"])
def duplicate(request: Request, body: h.JsonObject, plural: str, namespace: str, name: str) -> Response:
    """Copy a repo's ``main`` into a new repo ``repository`` (the caller must be able to download the source)."""
    p = h.principal(request)
    service = h.hub(request)
    src = _repo(request, plural, namespace, name)
    service.require_download(p, src, h.repo_web_url(request, src.type, src.repo_id))
    try:
        target = validate_repo_id(body.get("repository"))
    except HFValidationError as exc:
        raise bad_request(str(exc), "InvalidRepoId") from exc
    if p is None:
        raise Unauthorized("Authentication required to duplicate a repo: pass a write token.")
    ns, _, new_name = target.partition("/")
    visibility = body.get("visibility")
    private = visibility in ("private", "protected") or (visibility is None and body.get("private") is True)
    with service.sessions() as db:
        ns = service.canonical_namespace(db, p, ns)
    try:
        repo = service.duplicate_repo(p, src, ns, new_name, private)
    except RepoExists:  # exist_ok reads the url from the 409
        url = h.repo_web_url(request, src.type, f"{ns}/{new_name}")
        return h.json_response({"error": f"{ns}/{new_name} already exists", "url": url}, 409)
    return h.json_response(
        {"url": h.repo_web_url(request, repo.type, repo.repo_id), "filesCopyPending": False}
    )


@router.post(REPO + "/super-squash/{branch}", tags=["refs"])
def super_squash(
    request: Request, body: h.JsonObject, plural: str, namespace: str, name: str, branch: str
) -> Response:
    """Squash the whole history of ``branch`` into one commit (writers only; irreversible)."""
    p = h.principal(request)
    rev = h.revision_from(branch)
    repo = _repo(request, plural, namespace, name, write=True)
    message = body.get("message")
    if message is not None and not isinstance(message, str):
        raise bad_request("'message' must be a string.")
    assert p is not None  # writable_repo answered 401 otherwise
    title = (message or f"Super-squash branch '{rev}'")[:10_000]
    cid = h.hub(request).super_squash(repo, rev, p.name, title)
    return h.json_response({"commitId": cid})
