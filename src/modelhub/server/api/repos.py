"""Repository routes: create / delete / move / settings, repo info, listing and search, auth-check."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import update
from starlette.responses import Response

from ..._common.validation import validate_repo_id
from ...errors import HFValidationError
from ..domain import views
from ..domain.accounts import can_read, can_write
from ..domain.errors import RepoNotFound
from ..domain.hub import Conflict
from ..storage.db import Repo, iso
from . import _http as h
from . import limits
from .errors import ApiError, bad_request
from .paging import decode_cursor, encode_cursor, next_page

router = APIRouter()
REPO = "/api/{plural:plural}/{namespace}/{name}"


def _body_repo_id(body: dict[str, Any], default_ns: str | None) -> tuple[str, str, str]:
    name = body.get("name")
    org = body.get("organization") or default_ns
    if not isinstance(name, str) or not name:
        raise bad_request("Missing 'name' in the request body.", "InvalidRepoId")
    if "/" in name:
        org, _, name = name.partition("/")
    try:
        rid = validate_repo_id(f"{org}/{name}")
    except HFValidationError as exc:
        raise bad_request(str(exc), "InvalidRepoId") from exc
    return rid, str(org), name


def _body_type(body: dict[str, Any]) -> str:
    t = body.get("type") or "model"
    if not isinstance(t, str) or t not in h.TYPE_TO_PREFIX:  # a list or an object is not hashable: no 500
        raise bad_request(
            f"Invalid repo type {str(t)[:40]!r}: expected model, dataset or space.", "InvalidRepoType"
        )
    return t


def _visibility(body: dict[str, Any]) -> bool | None:
    if body.get("visibility") in ("private", "protected"):
        return True
    if body.get("visibility") == "public":
        return False
    if isinstance(body.get("private"), bool):
        return body["private"]
    return None


@router.post("/api/repos/create", tags=["repos"])
def create_repo(request: Request, body: h.JsonObject) -> Response:
    """Create a repo (409 with its ``url`` if it exists already, which ``exist_ok`` relies on)."""
    p = h.principal(request)
    if p is None:
        raise ApiError(401, "Authentication required to create a repo: pass a write token.", "Unauthorized")
    repo_type = _body_type(body)
    rid, ns, name = _body_repo_id(body, p.name)
    service = h.hub(request)
    service.require_write(p, ns, rid)  # 403 for a read token or a foreign namespace, whether or not it exists
    with service.sessions() as db:
        ns = service.canonical_namespace(db, p, ns)  # "Alice/x" by user alice lands in alice/
        rid = f"{ns}/{name}"
        url = h.repo_web_url(request, repo_type, rid)
        existing = service.find_repo(db, repo_type, rid)  # in any casing: names are unique ignoring case
        if existing is not None and can_read(p, existing):
            url = h.repo_web_url(request, repo_type, existing.repo_id)
            return h.json_response({"error": f"You already created this {repo_type} repo", "url": url}, 409)
    try:
        repo = service.create_repo(p, repo_type, ns, name, bool(_visibility(body)))
    except Conflict:
        return h.json_response({"error": f"You already created this {repo_type} repo", "url": url}, 409)
    return h.json_response({"url": url, "name": rid, "id": str(repo.id)})


@router.delete("/api/repos/delete", tags=["repos"])
def delete_repo(request: Request, body: h.JsonObject) -> Response:
    p = h.principal(request)
    repo_type = _body_type(body)
    rid, _, _ = _body_repo_id(body, p.name if p else None)
    service = h.hub(request)
    with service.sessions() as db:
        repo = service.writable_repo(db, p, repo_type, rid)
    service.delete_repo(repo.id)
    return h.json_response({"deleted": rid})


@router.post("/api/repos/move", tags=["repos"])
def move_repo(request: Request, body: h.JsonObject) -> Response:
    """Rename a repo or move it to another namespace the caller can write to."""
    p = h.principal(request)
    repo_type = _body_type(body)
    try:
        src = validate_repo_id(body.get("fromRepo"))
        dst = validate_repo_id(body.get("toRepo"))
    except HFValidationError as exc:
        raise bad_request(str(exc), "InvalidRepoId") from exc
    service = h.hub(request)
    dst_ns, _, dst_name = dst.partition("/")
    service.require_write(p, dst_ns, dst)
    with service.sessions() as db:
        repo = service.writable_repo(db, p, repo_type, src)
        dst_ns = service.canonical_namespace(db, p, dst_ns)
        dst = f"{dst_ns}/{dst_name}"
        other = service.find_repo(db, repo_type, dst)
        if other is not None and other.id != repo.id:  # renaming to another casing of itself is fine
            raise ApiError(409, f"Cannot move {src!r} to {dst!r}: {dst!r} already exists.", "Conflict")
        db.execute(update(Repo).where(Repo.id == repo.id).values(namespace=dst_ns, name=dst_name))
        db.commit()
    return h.json_response({"url": h.repo_web_url(request, repo_type, dst)})


@router.put(REPO + "/settings", tags=["repos"])
def repo_settings(request: Request, body: h.JsonObject, plural: str, namespace: str, name: str) -> Response:
    """Change visibility (``visibility`` or legacy ``private``) and ``gated``."""
    p = h.principal(request)
    rid = h.repo_id_from(namespace, name)
    service = h.hub(request)
    values: dict[str, Any] = {}
    private = _visibility(body)
    if private is not None:
        values["private"] = private
    if "gated" in body:
        gated = body["gated"]
        if gated not in (False, "auto", "manual"):
            raise bad_request(f"Invalid 'gated' value {gated!r}: expected false, 'auto' or 'manual'.")
        values["gated"] = gated or ""
    with service.sessions() as db:
        repo = service.writable_repo(db, p, h.PLURAL_TO_TYPE[plural], rid)
        if values:
            db.execute(update(Repo).where(Repo.id == repo.id).values(**values))
            db.commit()
        repo = db.get(Repo, repo.id)
        return h.json_response({"private": repo.private, "gated": repo.gated or False})


# What ``expand=`` may name (the official client's lists for models, datasets and spaces); properties this hub
# does not compute are accepted and left out of the answer.
EXPAND = frozenset(
    [
        "author",
        "baseModels",
        "cardData",
        "childrenModelCount",
        "citation",
        "config",
        "createdAt",
        "description",
        "disabled",
        "downloads",
        "downloadsAllTime",
        "evalResults",
        "gated",
        "gguf",
        "inference",
        "inferenceProviderMapping",
        "lastModified",
        "library_name",
        "likes",
        "mask_token",
        "model-index",
        "paperswithcode_id",
        "pipeline_tag",
        "private",
        "resourceGroup",
        "runtime",
        "safetensors",
        "sdk",
        "sha",
        "siblings",
        "spaces",
        "subdomain",
        "tags",
        "transformersInfo",
        "trendingScore",
        "usedStorage",
        "widgetData",
        "xetEnabled",
    ]
)
_ALWAYS = ("_id", "id", "modelId")


def _expand(request: Request) -> list[str] | None:
    wanted = request.query_params.getlist("expand")
    unknown = [e for e in wanted if e not in EXPAND]
    if unknown:
        raise bad_request(
            f"Invalid expand property {unknown[0][:60]!r}: expected some of {', '.join(sorted(EXPAND))}."
        )
    return wanted or None


def _siblings(tree: dict[str, Any], blobs: bool) -> list[dict[str, Any]]:
    siblings = []
    for path in sorted(tree):
        sib: dict[str, Any] = {"rfilename": path}
        if blobs:
            e = tree[path]
            sib.update(size=e.size, blobId=e.oid)
            if e.lfs:
                sib["lfs"] = {"sha256": e.sha256, "size": e.size, "pointerSize": e.pointer_size}
        siblings.append(sib)
    return siblings


def _repo_info(request: Request, d: views.RepoDetail, expand: list[str] | None) -> dict[str, Any]:
    """The Hub's repo info: the default view, or exactly the ``expand`` properties (plus the ids)."""
    blobs = request.query_params.get("blobs") in ("true", "1", "True")
    repo, tree, card, meta = d.repo, d.tree, d.card, d.meta
    info: dict[str, Any] = {
        "_id": str(repo.id),
        "id": repo.repo_id,
        "author": repo.namespace,
        "sha": d.commit.id,
        "private": repo.private,
        "gated": repo.gated or False,
        "disabled": False,
        "lastModified": iso(d.commit.created_at),
        "createdAt": iso(repo.created_at),
        "tags": d.tags,
        "downloads": d.downloads[0],
        "likes": d.likes,
        "cardData": card or None,
        "siblings": _siblings(tree, blobs),
    }
    if blobs or (expand and "usedStorage" in expand):
        info["usedStorage"] = sum(e.size for e in tree.values())
    if repo.type == "model":
        info.update(library_name=meta.library_name, pipeline_tag=meta.pipeline_tag, modelId=repo.repo_id)
        for key, value in (
            ("config", meta.config),
            ("transformersInfo", meta.transformers_info),
            ("safetensors", meta.safetensors),
        ):
            if value is not None:
                info[key] = value
    if expand is None:
        return info
    info["downloadsAllTime"] = d.downloads[1]
    return {k: v for k, v in info.items() if k in _ALWAYS or k in expand}


@router.get(REPO, tags=["repos"])
@router.get(REPO + "/revision/{revision}", tags=["repos"])
def repo_info(request: Request, plural: str, namespace: str, name: str, revision: str = "main") -> Response:
    """Repo metadata at a revision: ``sha``, ``siblings`` (with sizes when ``blobs=true``), card data."""
    p = h.principal(request)
    rid = h.repo_id_from(namespace, name)
    rev = h.revision_from(revision)
    service = h.hub(request)
    try:
        repo = service.readable_snapshot(p, h.PLURAL_TO_TYPE[plural], rid)  # cached, like the resolve path
    except RepoNotFound as exc:
        raise h.with_bare_id_hint(exc, namespace, name) from None
    cid = service.resolve_cached(repo, rev)
    expand = _expand(request)
    with service.sessions() as db:
        return h.json_response(_repo_info(request, views.repo_detail(service, db, repo, cid, p), expand))


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name) in ("1", "true", "True")


def _list_item(
    request: Request, service: Any, db: Any, summary: views.RepoSummary, expand: list[str] | None
) -> dict[str, Any]:
    """A listing entry: the summary; with ``full`` also the files, with ``cardData`` / ``config`` those, with
    ``expand`` exactly the properties named (computed from the head of ``main`` as repo info does)."""
    repo, meta = summary.repo, summary.meta
    item: dict[str, Any] = {
        "_id": str(repo.id),
        "id": repo.repo_id,
        "author": repo.namespace,
        "sha": summary.sha,
        "private": repo.private,
        "gated": repo.gated or False,
        "lastModified": iso(repo.last_modified),
        "createdAt": iso(repo.created_at),
        "tags": summary.tags,
        "downloads": summary.downloads[0],
        "likes": summary.likes,
    }
    if repo.type == "model":
        item.update(
            modelId=repo.repo_id,
            library_name=meta.get("library_name") or summary.card.get("library_name"),
            pipeline_tag=meta.get("pipeline_tag") or summary.card.get("pipeline_tag"),
        )
    full, card_data, config = _flag(request, "full"), _flag(request, "cardData"), _flag(request, "config")
    if summary.sha is None or not (full or card_data or config or expand):
        return item
    info = _repo_info(request, views.repo_detail(service, db, repo, summary.sha), expand)
    if expand:
        return info
    keep = {"siblings", "cardData"} if full else set()
    keep |= {"cardData"} if card_data else set()
    keep |= {"config"} if config else set()
    item.update({k: v for k, v in info.items() if k in keep})
    return item


@router.get("/api/{plural:plural}", tags=["repos"])
def list_repos(request: Request, plural: str) -> Response:
    """List/search repos: ``author``, ``search`` (substring of the id), ``filter`` (tags), ``pipeline_tag``,
    ``sort``, ``limit``."""
    p = h.principal(request)
    q = request.query_params
    service = h.hub(request)
    limit = h.settings(request).page_size
    limit = max(1, min(limits.int_param(q.get("limit"), "limit", limit, 0, limits.MAX_OFFSET), 1000))
    offset = decode_cursor(q.get("cursor"))
    sort = q.get("sort") or "lastModified"
    direction = q.get("direction")
    expand = _expand(request)
    with service.sessions() as db:
        page, total = views.search_repos(
            db,
            p,
            h.PLURAL_TO_TYPE[plural],
            author=q.get("author"),
            search=q.get("search"),
            filters=q.getlist("filter"),
            pipeline_tag=q.get("pipeline_tag"),
            sort=sort,
            direction=direction,
            offset=offset,
            limit=limit,
            counter=service.downloads,
        )
        out = [_list_item(request, service, db, summary, expand) for summary in page]
    more = offset + limit < total
    headers = next_page(request, f"/api/{plural}", encode_cursor(offset + limit)) if more else {}
    return h.json_response(out, headers=headers)


@router.get(REPO + "/auth-check", tags=["repos"])
def auth_check(request: Request, plural: str, namespace: str, name: str) -> Response:
    """200 if the caller may read the repo (and have its files, for a gated one), else RepoNotFound (404, or 401
    when anonymous) or GatedRepo (403, 401 anonymous)."""
    p = h.principal(request)
    rid = h.repo_id_from(namespace, name)
    service = h.hub(request)
    with service.sessions() as db:
        repo = service.readable_repo(db, p, h.PLURAL_TO_TYPE[plural], rid)
        writable = can_write(p, repo)
    service.require_download(
        p, repo, h.repo_web_url(request, repo.type, repo.repo_id)
    )  # GatedRepo as the Hub
    return h.json_response({"read": True, "write": writable})
