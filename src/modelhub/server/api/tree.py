"""Browsing files: tree listings (paginated, pinned to one commit) and ``paths-info``; Xet files carry ``xetHash``."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from ..._common.validation import is_commit_hash
from ..caches import MISS
from ..domain import views, xetfiles
from ..domain.hub import HubService
from ..domain.trees import dir_oids, directories
from ..storage.db import iso
from . import _http as h
from .errors import bad_request, entry_not_found
from .paging import decode_cursor_full, encode_cursor, next_page

router = APIRouter()
REPO = "/api/{plural:plural}/{namespace}/{name}"
MAX_CACHED_PAGE = 64 * 1024  # bytes of JSON: bigger pages are rebuilt (from the memoized listing) each time


def _tree(request: Request, plural: str, namespace: str, name: str, revision: str, path: str) -> Response:
    p = h.principal(request)
    rid = h.repo_id_from(namespace, name)
    rev = h.revision_from(revision)
    rel = h.path_from(path) if path else ""
    q = request.query_params
    recursive = q.get("recursive") in ("true", "1", "True")
    offset, pinned = decode_cursor_full(q.get("cursor"))
    expand = q.get("expand") in ("true", "1", "True")
    size = h.settings(request).page_size
    if expand:
        size = min(size, 100)  # lastCommit is computed per entry: smaller pages, like the Hub
    service = h.hub(request)
    repo = service.readable_snapshot(p, h.PLURAL_TO_TYPE[plural], rid)  # cached: no query in steady state
    with service.sessions() as db:
        if pinned:
            row = service.commit_row(db, pinned) if is_commit_hash(pinned) else None
            if row is None or row.repo_pk != repo.id:  # a cursor is only valid for the repo that made it
                raise bad_request(
                    f"Invalid pagination cursor {q.get('cursor')!r}: use the Link header as given."
                )
        cid = pinned or service.resolve_cached(repo, rev)
        # A page is the same for everyone who may read the repo (checked above): small pages are kept in the hot
        # cache, which any write drops (the xetHash of a file appears when Xet storage registers it).
        key = ("tree", repo.id, cid, rel, recursive, expand, offset, size)
        hit = service.hot.get(key)
        if hit is MISS:
            gen = service.hot.gen
            listing = service.listing(db, cid, rel, recursive)
            if listing is None:
                raise entry_not_found(rid, rev, rel, cid)
            page = with_xet_hashes(db, listing[offset : offset + size])
            if expand:
                # annotate copies: the listing is shared (memoized)
                page = with_last_commits(service, db, cid, [dict(e) for e in page])
            hit = (h.json_text(page), offset + size < len(listing))
            if len(hit[0]) <= MAX_CACHED_PAGE:
                service.hot.put(key, hit, gen)
    encoded, more = hit
    headers = {}
    if more:
        tail = f"/{quote(rel, safe='')}" if rel else ""
        # the revision and path re-quoted, one segment each (as the client sent them)
        path = f"/api/{plural}/{rid}/tree/{quote(rev, safe='')}{tail}"
        headers = next_page(request, path, encode_cursor(offset + size, cid))
    return h.json_response(None, headers=headers, encoded=encoded)


def with_last_commits(
    service: HubService, db: Session, cid: str, entries: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Annotate entries with the last commit that changed each (one history walk for all, the web pages' walk:
    its per-commit comparisons are cached, so the next page or folder reuses them)."""
    lasts = views.last_changed(service, db, cid, {e["path"] for e in entries})
    for item in entries:
        row = lasts.get(item["path"])
        if row is not None:  # undecided only past the walk's bound (20,000 commits): left out
            item["lastCommit"] = {"id": row.id, "title": row.title, "date": iso(row.created_at)}
    return entries


def with_xet_hashes(db: Session, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries with ``xetHash`` on the large files Xet storage holds (copies: listings are shared)."""
    shas = [e["lfs"]["oid"] for e in entries if "lfs" in e]
    found = xetfiles.xet_hashes(db, shas) if shas else {}
    if not found:
        return entries
    return [
        {**e, "xetHash": found[e["lfs"]["oid"]]} if "lfs" in e and e["lfs"]["oid"] in found else e
        for e in entries
    ]


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
        out = with_xet_hashes(db, out)
        if expand:
            out = with_last_commits(service, db, cid, out)
    return h.json_response(out)
