"""Account and repository routes: whoami, create/delete/move/settings, info, listing, refs, history, tree."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from sqlalchemy import delete, func, or_, select, update
from starlette.responses import Response

from .._common.validation import is_commit_hash, validate_repo_id
from ..errors import HFValidationError
from . import _http as h
from . import limits
from .accounts import Principal, can_read, org_names
from .db import Account, Ref, Repo, iso
from .errors import ApiError, bad_request, entry_not_found, revision_not_found
from .service import Conflict, HubService, branch_ref
from .trees import card_tags, dir_oids, directories

router = APIRouter()
REPO = "/api/{plural:plural}/{namespace}/{name}"


@router.get("/api/whoami-v2", tags=["accounts"])
def whoami(request: Request) -> Response:
    """Who the token belongs to (name, orgs, token role)."""
    p = h.principal(request)
    if p is None:
        raise ApiError(
            401, "Authentication required: pass a token (Authorization: Bearer ...).", "Unauthorized"
        )
    with h.hub(request).sessions() as db:
        acc = db.get(Account, p.user_id)
        orgs = org_names(db, p.user_id)
    return h.json_response(
        {
            "type": "user",
            "id": str(p.user_id),
            "name": p.name,
            "fullname": acc.fullname if acc else p.name,
            "isAdmin": p.is_admin,
            "orgs": [{"name": o, "type": "org"} for o in orgs],
            "auth": {"type": "access_token", "accessToken": {"displayName": p.token_name, "role": p.role}},
        }
    )


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
    if t not in h.TYPE_TO_PREFIX:
        raise bad_request(f"Invalid repo type {t!r}: expected model, dataset or space.", "InvalidRepoType")
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
    url = h.repo_web_url(request, repo_type, rid)
    service = h.hub(request)
    service.require_write(p, ns, rid)  # 403 for a read token or a foreign namespace, whether or not it exists
    with service.sessions() as db:
        existing = service.find_repo(db, repo_type, rid)
        if existing is not None and can_read(p, existing):
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
        if service.find_repo(db, repo_type, dst) is not None:
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


def _repo_info(request: Request, service: HubService, db, repo: Repo, commit_id: str) -> dict[str, Any]:
    row = service.commit_row(db, commit_id)
    tree = service.tree(db, row.tree_id)
    card = service.card_at(db, commit_id)
    blobs = request.query_params.get("blobs") in ("true", "1", "True")
    siblings = []
    for path in sorted(tree):
        sib: dict[str, Any] = {"rfilename": path}
        if blobs:
            e = tree[path]
            sib.update(size=e.size, blobId=e.oid)
            if e.lfs:
                sib["lfs"] = {"sha256": e.sha256, "size": e.size, "pointerSize": e.pointer_size}
        siblings.append(sib)
    info: dict[str, Any] = {
        "_id": str(repo.id),
        "id": repo.repo_id,
        "author": repo.namespace,
        "sha": commit_id,
        "private": repo.private,
        "gated": repo.gated or False,
        "disabled": False,
        "lastModified": iso(row.created_at),
        "createdAt": iso(repo.created_at),
        "tags": card_tags(card),
        "downloads": 0,
        "likes": 0,
        "cardData": card or None,
        "siblings": siblings,
    }
    if blobs:
        info["usedStorage"] = sum(e.size for e in tree.values())
    if repo.type == "model":
        info["library_name"] = card.get("library_name")
        info["pipeline_tag"] = card.get("pipeline_tag")
        info["modelId"] = repo.repo_id
    return info


@router.get(REPO, tags=["repos"])
@router.get(REPO + "/revision/{revision}", tags=["repos"])
def repo_info(request: Request, plural: str, namespace: str, name: str, revision: str = "main") -> Response:
    """Repo metadata at a revision: ``sha``, ``siblings`` (with sizes when ``blobs=true``), card data."""
    p = h.principal(request)
    rid = h.repo_id_from(namespace, name)
    rev = h.revision_from(revision)
    service = h.hub(request)
    with service.sessions() as db:
        repo = service.readable_repo(db, p, h.PLURAL_TO_TYPE[plural], rid)
        cid = service.resolve(db, repo, rev)
        return h.json_response(_repo_info(request, service, db, repo, cid))


@router.get("/api/{plural:plural}", tags=["repos"])
def list_repos(request: Request, plural: str) -> Response:
    """List/search repos: ``author``, ``search`` (substring of the id), ``filter`` (tags), ``sort``, ``limit``."""
    p = h.principal(request)
    q = request.query_params
    service = h.hub(request)
    limit = h.settings(request).page_size
    limit = max(1, min(limits.int_param(q.get("limit"), "limit", limit, 0, limits.MAX_OFFSET), 1000))
    offset = _decode_cursor(q.get("cursor"))
    sort = q.get("sort") or "lastModified"
    direction = q.get("direction")
    with service.sessions() as db:
        stmt = select(Repo).where(Repo.type == h.PLURAL_TO_TYPE[plural])
        if q.get("author"):
            stmt = stmt.where(Repo.namespace == q["author"])
        if q.get("search"):
            like = f"%{q['search'].lower()}%"
            stmt = stmt.where(func.lower(Repo.namespace + "/" + Repo.name).like(like))
        if p is None:
            stmt = stmt.where(Repo.private.is_(False))
        elif not p.is_admin:
            stmt = stmt.where(or_(Repo.private.is_(False), Repo.namespace.in_([p.name, *p.orgs])))
        order = {"createdAt": Repo.created_at, "id": Repo.namespace + "/" + Repo.name}.get(
            sort, Repo.last_modified
        )
        ascending = direction in ("1", "asc") or (sort == "id" and direction is None)
        stmt = stmt.order_by(order.asc() if ascending else order.desc(), Repo.id)
        filters = q.getlist("filter")
        rows = db.scalars(stmt).all()
        items = []
        for repo in rows:
            card = json.loads(repo.card_json or "{}")
            tags = card_tags(card)
            if filters and not all(f in tags or f == card.get("library_name") for f in filters):
                continue
            items.append((repo, card, tags))
        page = items[offset : offset + limit]
        shas = {
            pk: c
            for pk, c in db.execute(
                select(Ref.repo_pk, Ref.commit_id).where(
                    Ref.repo_pk.in_([r.id for r, _, _ in page]), Ref.name == "refs/heads/main"
                )
            )
        }
    out = []
    for repo, card, tags in page:
        item = {
            "_id": str(repo.id),
            "id": repo.repo_id,
            "author": repo.namespace,
            "sha": shas.get(repo.id),
            "private": repo.private,
            "gated": repo.gated or False,
            "lastModified": iso(repo.last_modified),
            "createdAt": iso(repo.created_at),
            "tags": tags,
            "downloads": 0,
            "likes": 0,
        }
        if repo.type == "model":
            item.update(
                modelId=repo.repo_id,
                library_name=card.get("library_name"),
                pipeline_tag=card.get("pipeline_tag"),
            )
        out.append(item)
    headers = {}
    if offset + limit < len(items):
        params = [(k, v) for k, v in q.multi_items() if k != "cursor"] + [
            ("cursor", _encode_cursor(offset + limit))
        ]
        headers["Link"] = f'<{h.base_url(request)}/api/{plural}?{urlencode(params)}>; rel="next"'
    return h.json_response(out, headers=headers)


def _encode_cursor(offset: int, commit: str = "") -> str:
    return base64.urlsafe_b64encode(f"{offset}:{commit}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> int:
    return _decode_cursor_full(cursor)[0]


def _decode_cursor_full(cursor: str | None) -> tuple[int, str]:
    if not cursor:
        return 0, ""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        off, _, commit = raw.partition(":")
        offset = int(off)
        if not 0 <= offset <= limits.MAX_OFFSET:
            raise ValueError(off)
        return offset, commit
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"Invalid pagination cursor {cursor!r}: use the Link header as given.") from exc


@router.get(REPO + "/auth-check", tags=["repos"])
def auth_check(request: Request, plural: str, namespace: str, name: str) -> Response:
    """200 if the caller may read the repo, else RepoNotFound (404, or 401 when anonymous)."""
    p = h.principal(request)
    rid = h.repo_id_from(namespace, name)
    service = h.hub(request)
    with service.sessions() as db:
        repo = service.readable_repo(db, p, h.PLURAL_TO_TYPE[plural], rid)
        writable = p is not None and p.can_write and p.member_of(repo.namespace)
    return h.json_response({"read": True, "write": writable})


@router.get(REPO + "/refs", tags=["refs"])
def list_refs(request: Request, plural: str, namespace: str, name: str) -> Response:
    """Branches, tags (and ``pullRequests`` with ``include_prs=1``)."""
    p = h.principal(request)
    rid = h.repo_id_from(namespace, name)
    service = h.hub(request)
    with service.sessions() as db:
        repo = service.readable_repo(db, p, h.PLURAL_TO_TYPE[plural], rid)
        refs = db.execute(
            select(Ref.name, Ref.commit_id).where(Ref.repo_pk == repo.id).order_by(Ref.name)
        ).all()
    out: dict[str, list[dict[str, str]]] = {"branches": [], "tags": [], "converts": []}
    prs = []
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
    offset = _decode_cursor(q.get("cursor"))
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
            ("cursor", _encode_cursor(offset + limit))
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
    if bname.startswith("refs/") or len(bname) == 40 and all(c in "0123456789abcdef" for c in bname):
        raise bad_request(
            f"Invalid branch name {bname!r}: it may not start with 'refs/' or look like a commit id."
        )
    service = h.hub(request)
    with service.sessions() as db:
        repo = service.writable_repo(db, p, h.PLURAL_TO_TYPE[plural], rid)
        start = body.get("startingPoint") or "main"
        cid = service.resolve(db, repo, h.revision_from(quote(str(start), safe="")))
        if db.get(Ref, (repo.id, branch_ref(bname))) is not None:
            raise ApiError(409, f"Branch {bname!r} already exists in {rid!r}.", "Conflict")
        db.add(Ref(repo_pk=repo.id, name=branch_ref(bname), commit_id=cid))
        db.commit()
    return h.json_response({"name": bname, "ref": branch_ref(bname), "targetCommit": cid})


@router.delete(REPO + "/branch/{branch}", tags=["refs"])
def delete_branch(request: Request, plural: str, namespace: str, name: str, branch: str) -> Response:
    p = h.principal(request)
    rid = h.repo_id_from(namespace, name)
    bname = h.revision_from(branch)
    if bname == "main":
        raise ApiError(403, f"Cannot delete the default branch 'main' of {rid!r}.", "Forbidden")
    return _delete_ref(request, p, plural, rid, f"refs/heads/{bname}", bname)


def _delete_ref(
    request: Request, p: Principal | None, plural: str, rid: str, ref: str, label: str
) -> Response:
    service = h.hub(request)
    with service.sessions() as db:
        repo = service.writable_repo(db, p, h.PLURAL_TO_TYPE[plural], rid)
        n = db.execute(delete(Ref).where(Ref.repo_pk == repo.id, Ref.name == ref)).rowcount
        if n == 0:
            raise revision_not_found(rid, label)
        db.commit()
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
        if db.get(Ref, (repo.id, f"refs/tags/{tag}")) is not None:
            raise ApiError(409, f"Tag {tag!r} already exists in {rid!r}.", "Conflict")
        db.add(Ref(repo_pk=repo.id, name=f"refs/tags/{tag}", commit_id=cid))
        db.commit()
    return h.json_response({"name": tag, "ref": f"refs/tags/{tag}", "targetCommit": cid})


@router.delete(REPO + "/tag/{tag}", tags=["refs"])
def delete_tag(request: Request, plural: str, namespace: str, name: str, tag: str) -> Response:
    p = h.principal(request)
    rid = h.repo_id_from(namespace, name)
    t = h.revision_from(tag)
    return _delete_ref(request, p, plural, rid, f"refs/tags/{t}", t)


def _tree(request: Request, plural: str, namespace: str, name: str, revision: str, path: str) -> Response:
    p = h.principal(request)
    rid = h.repo_id_from(namespace, name)
    rev = h.revision_from(revision)
    rel = h.path_from(path) if path else ""
    q = request.query_params
    recursive = q.get("recursive") in ("true", "1", "True")
    offset, pinned = _decode_cursor_full(q.get("cursor"))
    service = h.hub(request)
    with service.sessions() as db:
        repo = service.readable_repo(db, p, h.PLURAL_TO_TYPE[plural], rid)
        if pinned:
            row = service.commit_row(db, pinned) if is_commit_hash(pinned) else None
            if row is None or row.repo_pk != repo.id:  # a cursor is only valid for the repo that made it
                raise bad_request(
                    f"Invalid pagination cursor {q.get('cursor')!r}: use the Link header as given."
                )
        cid = pinned or service.resolve(db, repo, rev)
        listing = service.listing(db, cid, rel, recursive)
        if listing is None:
            raise entry_not_found(rid, rev, rel, cid)
        expand = q.get("expand") in ("true", "1", "True")
        size = h.settings(request).page_size
        if expand:
            size = min(size, 100)  # lastCommit is computed per entry: smaller pages, like the Hub
        page = listing[offset : offset + size]
        if expand:
            page = [dict(e) for e in page]  # the listing is shared (memoized): annotate copies
            lasts = service.last_commits(db, cid, {e["path"]: e["type"] == "directory" for e in page})
            for item in page:
                row = lasts[item["path"]]
                item["lastCommit"] = {"id": row.id, "title": row.title, "date": iso(row.created_at)}
    headers = {}
    if offset + size < len(listing):
        params = [(k, v) for k, v in q.multi_items() if k != "cursor"] + [
            ("cursor", _encode_cursor(offset + size, cid))
        ]
        tail = f"/{quote(rel, safe='')}" if rel else ""
        url = f"{h.base_url(request)}/api/{plural}/{rid}/tree/{quote(rev, safe='')}{tail}?{urlencode(params)}"
        headers["Link"] = f'<{url}>; rel="next"'
    return h.json_response(page, headers=headers)


@router.get(REPO + "/tree/{revision}", tags=["files"])
def tree_root(request: Request, plural: str, namespace: str, name: str, revision: str) -> Response:
    """List files and folders (``recursive``, ``expand``), paginated with an absolute ``Link`` URL."""
    return _tree(request, plural, namespace, name, revision, "")


@router.get(REPO + "/tree/{revision}/{path:path}", tags=["files"])
def tree_path(request: Request, plural: str, namespace: str, name: str, revision: str, path: str) -> Response:
    return _tree(request, plural, namespace, name, revision, path)


MAX_PATHS_INFO = 10_000


@router.post(REPO + "/paths-info/{revision}", tags=["files"])
async def paths_info(request: Request, plural: str, namespace: str, name: str, revision: str) -> Response:
    """Tree entries of the given ``paths`` (form-encoded or JSON, at most 10,000); missing paths are left out."""
    if "json" in request.headers.get("content-type", ""):
        body = await h.read_json_object(request)
        paths = body.get("paths") or []
        expand = bool(body.get("expand"))
    else:
        form = await request.form(max_files=0, max_fields=MAX_PATHS_INFO + 2)
        paths = [str(v) for v in form.getlist("paths")]
        expand = str(form.get("expand", "false")).lower() in ("true", "1")
    if not isinstance(paths, list):
        raise bad_request("'paths' must be a list of paths.")
    if len(paths) > MAX_PATHS_INFO:
        raise bad_request(f"paths-info for {len(paths)} paths: at most {MAX_PATHS_INFO} per request.")
    return await h.run(_paths_info, request, plural, namespace, name, revision, paths, expand)


def _paths_info(
    request: Request, plural: str, namespace: str, name: str, revision: str, paths: list[Any], expand: bool
) -> Response:
    p = h.principal(request)
    rid = h.repo_id_from(namespace, name)
    rev = h.revision_from(revision)
    wanted = list(dict.fromkeys(h.check_path(raw) for raw in paths))
    service = h.hub(request)
    with service.sessions() as db:
        repo = service.readable_repo(db, p, h.PLURAL_TO_TYPE[plural], rid)
        cid = service.resolve(db, repo, rev)
        tree = service.commit_tree(db, cid)
        folders = {path for path in wanted if path not in tree}
        if folders:  # one pass over the tree for all of them: cost files + paths, not files x paths
            folders &= directories(tree)
        oids = dir_oids(tree, folders) if folders else {}
        out: list[dict[str, Any]] = []
        for path in wanted:
            if path in tree:
                out.append(tree[path].api_dict(path))
            elif path in oids:
                out.append({"type": "directory", "oid": oids[path], "size": 0, "path": path})
        if expand:
            lasts = service.last_commits(db, cid, {e["path"]: e["type"] == "directory" for e in out})
            for item in out:
                last = lasts[item["path"]]
                item["lastCommit"] = {"id": last.id, "title": last.title, "date": iso(last.created_at)}
    return h.json_response(out)


@router.get("/api/{plural:plural}/{namespace}/{name}/xet-read-token/{revision}", tags=["files"])
@router.get("/api/{plural:plural}/{namespace}/{name}/xet-write-token/{revision}", tags=["files"])
def no_xet(plural: str, namespace: str, name: str, revision: str) -> Response:
    """This hub does not speak Xet (see docs/server.md); 404 so clients keep to LFS / regular uploads."""
    raise ApiError(404, "This hub does not support Xet storage; set HF_HUB_DISABLE_XET=1.", "XetNotSupported")
