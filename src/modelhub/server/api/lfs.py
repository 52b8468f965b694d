"""Git LFS batch API (basic transfer): signed upload and download URLs, verified uploads, ownership checks (domain/objects.py)."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from ..domain import objects, xetfiles
from ..domain.hub import HubService
from ..storage.blobs import BlobVerificationError
from ..storage.db import Repo
from . import _http as h
from . import limits
from ._aio import AsyncBlobSink
from .errors import ApiError, bad_request
from .resolve import serve_blob

router = APIRouter()
REPO = "/api/{plural:plural}/{namespace}/{name}"


# --- LFS -----------------------------------------------------------------------------------------------------


def _sign(request: Request, oid: str, size: int, exp: int, repo_pk: int | None = None) -> str:
    key = request.app.state.secret
    scope = "" if repo_pk is None else f":{repo_pk}"
    return hmac.new(key, f"{oid}:{size}:{exp}{scope}".encode(), hashlib.sha256).hexdigest()[:40]


MAX_BATCH_OBJECTS = 10_000


def _batch_item(
    db: Session, service: HubService, p: Any, repo: Repo, operation: str, obj: Any, max_size: int
) -> tuple[dict[str, Any], bool]:
    """One object of a batch answer -> (item, needs a signed action). Ownership rules: server/objects.py.

    An object the caller cannot prove it holds is treated exactly as an absent one (upload it / not found),
    whether or not the server stores it for another repo: no answer reveals a hash stored elsewhere."""
    oid = obj.get("oid") if isinstance(obj, dict) else None
    size = obj.get("size") if isinstance(obj, dict) else None
    if not isinstance(oid, str) or not limits.OID.match(oid) or not h.is_int(size, 0, 2**63 - 1):
        bad = {"code": 422, "message": "oid must be 64 lowercase hex chars, size an integer >= 0"}
        return {
            "oid": str(oid)[:64],
            "size": size if h.is_int(size, 0, 2**63 - 1) else 0,
            "error": bad,
        }, False
    item: dict[str, Any] = {"oid": oid, "size": size}
    if operation == "upload":
        allowed = objects.provable(db, p, repo.id, oid)
        if size > max_size:
            item["error"] = {"code": 422, "message": f"object larger than the {max_size}-byte limit"}
            return item, False
    else:
        allowed = objects.in_repo(db, repo.id, oid)
    stored = xetfiles.content_size(db, service.blobs, oid) if allowed else None  # a blob or a Xet file
    known = stored is not None
    if known and stored != size:
        item["error"] = {"code": 422, "message": f"object {oid} exists in this repo with another size"}
        return item, False
    if operation == "upload":
        if known and service.blobs.exists(oid):
            service.blobs.touch(oid)  # about to be committed: keep it out of garbage collection
        return item, not known
    if not known:
        item["error"] = {"code": 404, "message": f"object {oid} not found"}
        return item, False
    return item, True


def _lfs_batch(request: Request, body: dict[str, Any], repo_type: str, namespace: str, name: str) -> Response:
    p = h.principal(request)
    rid = h.repo_id_from(namespace, name.removesuffix(".git"))
    service = h.hub(request)
    operation = body.get("operation")
    objs = body.get("objects")
    if operation not in ("upload", "download") or not isinstance(objs, list):
        raise bad_request("LFS batch needs 'operation' (upload or download) and a list of 'objects'.")
    if len(objs) > MAX_BATCH_OBJECTS:
        raise bad_request(f"LFS batch of {len(objs)} objects: at most {MAX_BATCH_OBJECTS} per request.")
    base = h.base_url(request)
    exp = int(time.time()) + h.settings(request).lfs_url_ttl
    ttl = h.settings(request).lfs_url_ttl
    max_size = h.settings(request).max_object_size
    prefix = h.TYPE_TO_PREFIX[repo_type]
    out: list[dict[str, Any]] = []
    with service.sessions() as db:
        if operation == "upload":
            repo = service.uploadable_repo(db, p, repo_type, rid)
        else:
            repo = service.downloadable_repo(db, p, repo_type, rid, h.repo_web_url(request, repo_type, rid))
        for obj in objs:
            item, act = _batch_item(db, service, p, repo, operation, obj, max_size)
            if act and operation == "upload":
                oid, size = item["oid"], item["size"]
                sig = _sign(request, oid, size, exp, repo.id)
                item["authenticated"] = True
                item["actions"] = {
                    "upload": {
                        "href": f"{base}/lfs-upload/{oid}?size={size}&exp={exp}&repo={repo.id}&sig={sig}",
                        "expires_in": ttl,
                    },
                    "verify": {
                        "href": f"{base}/{prefix}{rid}.git/info/lfs/objects/verify",
                        "expires_in": ttl,
                    },
                }
            elif act:
                oid, size = item["oid"], item["size"]
                sig = _sign(request, oid, size, exp)
                item["actions"] = {
                    "download": {
                        "href": f"{base}/lfs-objects/{oid}?size={size}&exp={exp}&sig={sig}",
                        "expires_in": ttl,
                    }
                }
            out.append(item)
    return h.json_response({"transfer": "basic", "hash_algo": "sha256", "objects": out})


@router.post("/{namespace}/{name}.git/info/lfs/objects/batch", tags=["lfs"])
def lfs_batch_model(request: Request, body: h.JsonObject, namespace: str, name: str) -> Response:
    """Git LFS batch API (basic transfer): which objects to upload, with signed PUT URLs."""
    return _lfs_batch(request, body, "model", namespace, name)


@router.post("/{prefix:typeprefix}/{namespace}/{name}.git/info/lfs/objects/batch", tags=["lfs"])
def lfs_batch_typed(request: Request, body: h.JsonObject, prefix: str, namespace: str, name: str) -> Response:
    return _lfs_batch(request, body, h.PLURAL_TO_TYPE[prefix], namespace, name)


def _check_signature(request: Request, oid: str, scoped: bool = False) -> tuple[int, int | None]:
    """(size, repo pk) from a URL signed by the batch API; 403 when missing, forged or expired."""
    q = request.query_params
    try:
        size, exp = int(q["size"]), int(q["exp"])
        repo_pk = int(q["repo"]) if scoped else None
        if not (0 <= size < 2**63 and 0 <= exp < 2**63 and (repo_pk is None or 0 < repo_pk < 2**63)):
            raise ValueError("out of range")
    except (KeyError, ValueError) as exc:
        raise ApiError(
            403, "Missing or malformed signature parameters; ask the LFS batch API for a URL.", "BadSignature"
        ) from exc
    if not hmac.compare_digest(_sign(request, oid, size, exp, repo_pk), q.get("sig", "")):
        raise ApiError(
            403, "Invalid upload signature; ask the LFS batch API for a fresh URL.", "BadSignature"
        )
    if exp < time.time():
        raise ApiError(403, "This upload URL expired; ask the LFS batch API for a fresh one.", "BadSignature")
    return size, repo_pk


@router.put("/lfs-upload/{oid}", tags=["lfs"])
async def lfs_upload(request: Request, oid: str) -> Response:
    """Receive one object (signed URL from the batch API); it becomes visible only if its SHA-256 and size match.

    The bytes are always received and verified, even when the same content is stored already (then the one
    stored copy stays): the verified upload is what lets the repo in the URL commit the object."""
    if not limits.OID.match(oid):
        raise bad_request(f"Invalid object id {oid!r}: expected 64 lowercase hex characters.")
    size, repo_pk = _check_signature(request, oid, scoped=True)
    service = h.hub(request)
    sink = AsyncBlobSink(await h.run(service.blobs.writer, oid))
    try:
        async for chunk in request.stream():
            if sink.size + len(chunk) > size:
                raise ApiError(
                    400, f"Received more than the {size} bytes declared for {oid}.", "SizeMismatch"
                )
            await sink.write(chunk)
        await sink.finish(oid, size)
    except BlobVerificationError as exc:
        raise ApiError(
            400, f"Upload of {oid} rejected: {exc}. Nothing was stored; upload again.", "InvalidObject"
        ) from exc
    except BaseException:
        await sink.abort()
        raise
    assert repo_pk is not None
    await h.run(_grant, service, repo_pk, oid)
    return Response(status_code=200)


def _grant(service: HubService, repo_pk: int, oid: str) -> None:
    with service.sessions() as db:
        if db.get(Repo, repo_pk) is not None:  # the repo may have been deleted meanwhile
            objects.grant(db, repo_pk, oid)
            db.commit()


@router.get("/lfs-objects/{oid}", tags=["lfs"])
def lfs_download(request: Request, oid: str) -> Response:
    """Download one object through a URL signed by the batch API (given only for objects of a readable repo)."""
    if not limits.OID.match(oid):
        raise bad_request(f"Invalid object id {oid!r}.")
    _check_signature(request, oid)
    return serve_blob(h.hub(request), oid, {"ETag": f'"{oid}"'}, range_header=request.headers.get("range"))


def _lfs_verify(
    request: Request, body: dict[str, Any], repo_type: str, namespace: str, name: str
) -> Response:
    p = h.principal(request)
    rid = h.repo_id_from(namespace, name.removesuffix(".git"))
    service = h.hub(request)
    oid, size = body.get("oid"), body.get("size")
    if not isinstance(oid, str) or not limits.OID.match(oid):
        raise bad_request(f"Invalid object id {oid!r}.")
    with service.sessions() as db:
        repo = service.uploadable_repo(db, p, repo_type, rid)
        allowed = objects.provable(db, p, repo.id, oid)
        stored = xetfiles.content_size(db, service.blobs, oid) if allowed else None
    if stored is None:
        raise ApiError(404, f"Object {oid} was not uploaded (or failed verification).", "ObjectNotFound")
    if isinstance(size, int) and stored != size:
        raise ApiError(422, f"Object {oid} has {stored} bytes, not {size}.", "SizeMismatch")
    return h.json_response({"oid": oid, "size": stored})


@router.post("/{namespace}/{name}.git/info/lfs/objects/verify", tags=["lfs"])
def lfs_verify_model(request: Request, body: h.JsonObject, namespace: str, name: str) -> Response:
    """Confirm an uploaded object exists with the right size (it was hashed before being stored)."""
    return _lfs_verify(request, body, "model", namespace, name)


@router.post("/{prefix:typeprefix}/{namespace}/{name}.git/info/lfs/objects/verify", tags=["lfs"])
def lfs_verify_typed(
    request: Request, body: h.JsonObject, prefix: str, namespace: str, name: str
) -> Response:
    return _lfs_verify(request, body, h.PLURAL_TO_TYPE[prefix], namespace, name)
