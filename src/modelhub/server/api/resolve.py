"""Downloads: ``resolve`` GET/HEAD of a file at a revision, with the Hub's headers and Range; the fast path that skips the router for it."""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import quote

import anyio.to_thread
from fastapi import APIRouter, Request
from starlette.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from ..caches import MISS
from ..domain import xetfiles
from ..domain.downloads import is_query_file
from ..domain.hub import HubService
from ..storage.async_reads import AsyncReads
from . import _http as h
from .errors import ApiError, DomainError, entry_not_found

router = APIRouter()
SMALL_FILE = 256 * 1024  # served with one read instead of a threaded file stream
REPO = "/api/{plural:plural}/{namespace}/{name}"


# --- downloads -----------------------------------------------------------------------------------------------------


class _BlobFileResponse(FileResponse):
    chunk_size = 1 << 20


_RANGE = re.compile(r"^bytes=(\d{0,19})-(\d{0,19})$")


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``[start, end)`` of a single-range ``Range`` header (None: the whole file); 416 when unsatisfiable."""
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if m is None or not (m.group(1) or m.group(2)):
        return None  # a form we do not serve (several ranges): the whole file, as RFC 9110 allows
    if not m.group(1):  # the last N bytes
        return max(size - int(m.group(2)), 0), size
    start = int(m.group(1))
    end = min(int(m.group(2)) + 1, size) if m.group(2) else size
    if start >= size or end <= start:
        raise ApiError(
            416,
            f"Range {header[:80]!r} is not satisfiable for {size} bytes.",
            "RangeNotSatisfiable",
            headers={"Content-Range": f"bytes */{size}"},
        )
    return start, end


def serve_xet(
    service: HubService, sha256: str, headers: dict[str, str], range_header: str | None
) -> Response:
    """The bytes of a file Xet storage holds, reconstructed from its xorbs as they stream (with Range)."""
    with service.sessions() as db:
        f = xetfiles.file_by_sha256(db, sha256)
    if f is None or service.xet is None:
        raise ApiError(500, f"Object {sha256} is missing from storage.", "BlobMissing")
    span = byte_range(range_header, f.size)
    start, end = span or (0, f.size)
    out = {**headers, "Content-Length": str(end - start), "Accept-Ranges": "bytes"}
    status = 200
    if span is not None:
        status = 206
        out["Content-Range"] = f"bytes {start}-{end - 1}/{f.size}"
    # a sync iterator: Starlette pulls it on the thread pool, so reading and decompressing stay off the loop
    body = service.xet.iter_file(f.hash, start, end)
    return StreamingResponse(body, status_code=status, headers=out, media_type="application/octet-stream")


def xet_hash_of(service: HubService, sha256: str) -> str | None:
    """The Xet file hash of a content object, if Xet storage holds it (cached like the other hot-path lookups)."""
    key = ("xethash", sha256)
    hit = service.hot.get(key)
    if hit is not MISS:
        return hit
    gen = service.hot.gen
    with service.sessions() as db:
        found = xetfiles.xet_hashes(db, [sha256]).get(sha256)
    service.hot.put(key, found, gen)
    return found


def serve_blob(
    service: HubService,
    sha256: str,
    headers: dict[str, str],
    filename: str = "",
    expires_in: int = 3600,
    range_header: str | None = None,
) -> Response:
    """The bytes of a content object: a redirect to the store when it offers a direct URL (remote stores), else
    streamed from local disk with Range support; a file only Xet storage holds is reconstructed."""
    if not service.blobs.exists(sha256):
        return serve_xet(service, sha256, headers, range_header)
    url = service.blobs.download_url(sha256, filename=filename, expires_in=expires_in)
    if url is not None:
        return RedirectResponse(url, status_code=302, headers=headers)
    path = service.blobs.local_path(sha256)
    if path is None:
        raise ApiError(500, "This blob store can neither serve files nor give download URLs.", "Internal")
    try:
        st = os.stat(path)
    except FileNotFoundError as exc:
        raise ApiError(500, f"Blob {sha256} is missing from storage.", "BlobMissing") from exc
    return _BlobFileResponse(path, headers=headers, stat_result=st, media_type="application/octet-stream")


def resolve_response(
    request: Request, repo_type: str, namespace: str, name: str, revision: str, path: str
) -> Response:
    p = h.principal(request)
    rid = h.repo_id_from(namespace, name)
    rev = h.revision_from(revision)
    rel = h.path_from(path)
    service = h.hub(request)
    snap = service.readable_snapshot(p, repo_type, rid)
    service.require_download(p, snap, h.repo_web_url(request, repo_type, snap.repo_id))
    cid = service.resolve_cached(snap, rev)
    tree = service.cached_commit_tree(cid)
    entry = tree.get(rel)
    if entry is None:
        raise entry_not_found(rid, rev, rel, cid)
    if is_query_file(repo_type, rel, snap.library):
        service.downloads.hit(snap.id)  # in memory; written in batches (domain/downloads.py)
        request.scope["modelhub.download"] = snap.id  # the fast path counts cached answers of it too
    headers = {"X-Repo-Commit": cid, "Accept-Ranges": "bytes", "Cache-Control": "private, max-age=0"}
    xet_hash = xet_hash_of(service, entry.sha256) if entry.lfs else None
    if entry.lfs:
        headers.update(
            {
                "ETag": f'"{entry.sha256}"',
                "X-Linked-Etag": f'"{entry.sha256}"',
                "X-Linked-Size": str(entry.size),
            }
        )
        if xet_hash is not None:  # Xet clients download it through the CAS; others get the bytes below
            plural = h.TYPE_TO_PLURAL[repo_type]
            refresh = f"{h.base_url(request)}/api/{plural}/{rid}/xet-read-token/{cid}"
            headers["X-Xet-Hash"] = xet_hash
            headers["Link"] = f'<{refresh}>; rel="xet-auth"'
    else:
        headers["ETag"] = f'"{entry.oid}"'
    headers["Content-Disposition"] = f"inline; filename*=UTF-8''{quote(rel.rsplit('/', 1)[-1])}"
    if request.method == "HEAD":
        headers["Content-Length"] = str(entry.size)
        return Response(status_code=200, headers=headers, media_type="application/octet-stream")
    if xet_hash is not None and not service.blobs.exists(entry.sha256):
        return serve_xet(service, entry.sha256, headers, request.headers.get("range"))
    if entry.size <= SMALL_FILE and "range" not in request.headers:
        with service.blobs.open(entry.sha256) as fh:  # small: one read beats a threaded file stream
            return Response(fh.read(), headers=headers, media_type="application/octet-stream")
    ttl = request.app.state.settings.download_url_ttl  # a short-lived redirect (remote stores)
    return serve_blob(service, entry.sha256, headers, rel.rsplit("/", 1)[-1], ttl)


@router.get("/{namespace}/{name}/resolve/{revision}/{path:path}", tags=["files"])
@router.head("/{namespace}/{name}/resolve/{revision}/{path:path}", tags=["files"])
def resolve_model(request: Request, namespace: str, name: str, revision: str, path: str) -> Response:
    """Download a file at a revision (branch, tag, commit, ``refs/pr/N``) with the Hub's headers and Range."""
    return resolve_response(request, "model", namespace, name, revision, path)


@router.get("/{prefix:typeprefix}/{namespace}/{name}/resolve/{revision}/{path:path}", tags=["files"])
@router.head("/{prefix:typeprefix}/{namespace}/{name}/resolve/{revision}/{path:path}", tags=["files"])
def resolve_typed(
    request: Request, prefix: str, namespace: str, name: str, revision: str, path: str
) -> Response:
    return resolve_response(request, h.PLURAL_TO_TYPE[prefix], namespace, name, revision, path)


class ResolveFastPath:
    """Serves ``GET``/``HEAD`` ``/{repo}/resolve/{rev}/{path}`` without going through the router.

    This is the hottest route (every download starts with a HEAD, and ``transformers`` probes many optional
    files); routing through ~50 FastAPI routes costs more than the work itself. The same handler
    (``routes_files.resolve_response``) backs the documented route.

    The work (token check, database, small-file read) runs on a worker thread, never on the event loop. Small
    answers (HEAD, errors, GET bodies up to 4 KiB) are also kept in the service's ``HotCache``, keyed by method,
    raw path and the caller (user and token role, after the token was checked), so the access decision is the one
    made for that caller. Like the other hot-path entries they are dropped when any process writes to the database
    (``HubService.sync_caches``: the write generation, read with the caller's token or alone)."""

    MAX_CACHED_BODY = 4096

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD") and "/resolve/" in scope["path"]:
            parts = scope["path"].split("/", 6)
            # ['', ns, name, 'resolve', rev, path...] or ['', 'datasets', ns, name, 'resolve', rev, path]
            if len(parts) >= 6 and parts[3] == "resolve" and parts[1] not in ("api", "datasets", "spaces"):
                target = ("model", parts[1], parts[2], parts[4], "/".join(parts[5:]))
            elif len(parts) == 7 and parts[4] == "resolve" and parts[1] in ("datasets", "spaces"):
                target = (h.PLURAL_TO_TYPE[parts[1]], parts[2], parts[3], parts[5], parts[6])
            else:
                target = None
            if target is not None and target[4]:
                await self._resolve(scope, receive, send, target)
                return
        await self.app(scope, receive, send)

    async def _resolve(self, scope: dict, receive: Any, send: Any, target: tuple[str, ...]) -> None:
        from starlette.requests import Request as StarletteRequest

        scope["app"] = self.app
        request = StarletteRequest(scope, receive)
        ranged = any(k in (b"range", b"if-range") for k, _ in scope["headers"])
        response, synced = None, False
        reads = self.app.state.async_reads
        if reads is not None and reads.available and not ranged:
            response, synced = await self._cached_on_loop(request, reads)
        if response is None:
            response = await anyio.to_thread.run_sync(self._answer, request, target, ranged, synced)
        await response(scope, receive, send)

    async def _cached_on_loop(self, request: Any, reads: AsyncReads) -> tuple[Response | None, bool]:
        """The answer when the hot cache has it, found with no worker thread: the token and the write generation
        are awaited on the loop (storage/async_reads.py says why); and whether the hot cache was synced with that
        generation. No answer: the worker thread answers (``_answer`` then reuses the checked caller, and the sync
        if there was one). A database error here is left to that path, which reports it."""
        try:
            p = await h.principal_on_loop(request, reads)
            generation = p.db_generation if p is not None else None
            if generation is None:
                generation = await reads.generation()
        except (ApiError, DomainError) as exc:
            return h.error_response(exc, head=request.method == "HEAD"), False
        except Exception as exc:  # psycopg's errors: not SQLAlchemy's, which the app's handlers map to 503
            reads.failed(exc)
            return None, False
        self.app.state.hub.hot.sync(generation)
        key = ("resolve", request.method, request.scope["path"], None if p is None else p.cache_key)
        return self._hit(key), True

    def _hit(self, key: tuple[Any, ...]) -> Response | None:
        hit = self.app.state.hub.hot.get(key)
        if hit is MISS:
            return None
        status, headers, body, counted = hit
        if counted is not None:
            self.app.state.hub.downloads.hit(counted)
        cached = Response(body, status_code=status)
        cached.raw_headers = list(headers)
        return cached

    def _answer(self, request: Any, target: tuple[str, ...], ranged: bool, synced: bool = False) -> Response:
        """The answer, on a worker thread: the token and the database are looked up here, never on the loop.
        ``synced``: the hot cache was just synced with the database's write generation (on the loop)."""
        head = request.method == "HEAD"
        try:
            p = h.principal(request)  # checked on every request: a revoked token stops at once
        except (ApiError, DomainError) as exc:
            return h.error_response(exc, head=head)
        hot = self.app.state.hub.hot
        if not ranged and not synced:
            self.app.state.hub.sync_caches(p)  # answers stay correct after writes of other processes
        key = ("resolve", request.method, request.scope["path"], None if p is None else p.cache_key)
        if not ranged and (cached := self._hit(key)) is not None:
            return cached
        gen = hot.gen
        try:
            response = resolve_response(request, *target)
        except (ApiError, DomainError) as exc:
            response = h.error_response(exc, head=head)
        body = getattr(response, "body", None)
        if (
            not ranged
            and body is not None
            and len(body) <= self.MAX_CACHED_BODY
            and response.status_code < 500
        ):
            counted = request.scope.get("modelhub.download")
            hot.put(key, (response.status_code, response.raw_headers, body, counted), gen)
        return response
