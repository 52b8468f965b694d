"""File routes: README check, preupload, NDJSON commit, LFS batch/upload/verify and ``resolve`` downloads."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.responses import FileResponse, Response

from . import _http as h
from . import b64, gitignore, objects
from ._aio import AsyncBlobSink
from .accounts import Principal
from .blobstore import BlobVerificationError
from .db import BlobMeta, Discussion, Ref, Repo
from .discussions import add_event, open_discussion
from .errors import ApiError, bad_request, entry_not_found, revision_not_found
from .ndjson import Limits, StreamedBlob, parse_ndjson
from .service import HubService, Op, branch_ref
from .trees import Entry, git_blob_sha1

router = APIRouter()
REPO = "/api/{plural:plural}/{namespace}/{name}"
LFS_EXTENSIONS = [
    ".7z",
    ".arrow",
    ".bin",
    ".bz2",
    ".ckpt",
    ".ftz",
    ".gz",
    ".h5",
    ".joblib",
    ".keras",
    ".mlmodel",
    ".model",
    ".msgpack",
    ".npy",
    ".npz",
    ".onnx",
    ".ot",
    ".parquet",
    ".pb",
    ".pickle",
    ".pkl",
    ".pt",
    ".pth",
    ".rar",
    ".safetensors",
    ".tar",
    ".tflite",
    ".tgz",
    ".wasm",
    ".xz",
    ".zip",
    ".zst",
]
SMALL_FILE = 256 * 1024
_HF_HUB_UA = re.compile(r"(?:^|;\s*)hf_hub/(\d+)\.(\d+)")


# --- README metadata ----------------------------------------------------------------------------------------


@router.post("/api/validate-yaml", tags=["files"])
async def validate_yaml(request: Request) -> Response:
    """Check a README's YAML front matter (the client calls this before committing a README.md)."""
    body = await h.read_json_object(request)
    content = body.get("content")
    if not isinstance(content, str):
        raise bad_request("Missing 'content' (the README.md text) in the request body.")
    if content.startswith("---"):
        import yaml

        lines = content.splitlines()
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
        if end is not None:
            try:
                data = yaml.safe_load("\n".join(lines[1:end]))
            except yaml.YAMLError as exc:
                return h.json_response(
                    {"errors": [{"message": f"Invalid YAML in README.md metadata: {exc}"}]}, 400
                )
            if data is not None and not isinstance(data, dict):
                return h.json_response(
                    {"errors": [{"message": "README.md metadata must be a YAML mapping."}]}, 400
                )
    return h.json_response({"errors": [], "warnings": []})


# --- upload negotiation ---------------------------------------------------------------------------------------


def client_wants_regular(request: Request) -> bool:
    """True when preupload should answer ``regular`` for every file (see docs/server.md, "Xet").

    The official client >= 1.20 with ``hf_xet`` installed goes to Xet for any ``lfs`` answer and cannot be steered,
    so in ``auto`` mode such clients get ``regular`` unless their user-agent opts in with ``upload/lfs``.
    """
    mode = h.settings(request).upload_mode
    if mode != "auto":
        return mode == "regular"
    ua = request.headers.get("user-agent", "")
    if "upload/lfs" in ua:
        return False
    m = _HF_HUB_UA.search(ua)
    return bool(m) and (int(m.group(1)), int(m.group(2))) >= (1, 20)


def is_large(path: str, size: int, sample: bytes, threshold: int) -> bool:
    """Whether a file is stored (and, for LFS clients, uploaded) as a large file."""
    return size >= threshold or b"\0" in sample or path.lower().endswith(tuple(LFS_EXTENSIONS))


MAX_PREUPLOAD_FILES = 10_000


@router.post(REPO + "/preupload/{revision}", tags=["upload"])
async def preupload(request: Request, plural: str, namespace: str, name: str, revision: str) -> Response:
    """Tell the client, per file, whether to send it inline (``regular``) or through LFS, and its current oid."""
    body = await h.read_json_object(request)
    return await h.run(_preupload, request, body, plural, namespace, name, revision)


def _preupload(
    request: Request, body: dict[str, Any], plural: str, namespace: str, name: str, revision: str
) -> Response:
    p = h.principal(request)
    rid = h.repo_id_from(namespace, name)
    rev = h.revision_from(revision)
    files = body.get("files")
    if not isinstance(files, list):
        raise bad_request("Missing 'files' (a list of {path, sample, size}) in the request body.")
    if len(files) > MAX_PREUPLOAD_FILES:
        raise bad_request(f"Preupload of {len(files)} files: at most {MAX_PREUPLOAD_FILES} per request.")
    service = h.hub(request)
    regular = client_wants_regular(request)
    threshold = h.settings(request).large_file_threshold
    with service.sessions() as db:
        repo = service.writable_repo(db, p, h.PLURAL_TO_TYPE[plural], rid)
        try:
            tree = service.commit_tree(db, service.resolve(db, repo, rev))
        except ApiError:
            tree = {}  # a PR / branch that does not exist yet: everything is new
    ignored = _ignore_rules(service, body.get("gitIgnore"), tree)
    out = []
    for f in files:
        if not isinstance(f, dict):
            raise bad_request("Each entry of 'files' must be an object {path, sample, size}.")
        path = h.check_path(f.get("path"))
        size = f.get("size")
        if not h.is_int(size, 0, 2**63 - 1):
            raise bad_request(
                f"Invalid size {str(size)[:40]!r} for {path!r}: expected a non-negative integer."
            )
        raw_sample = f.get("sample") or ""
        if not isinstance(raw_sample, str) or len(raw_sample) > 4096:
            raise bad_request(f"Invalid 'sample' for {path!r}: base64 of the file's first 512 bytes.")
        try:
            sample = b64.decode(raw_sample)
        except b64.Base64Error as exc:
            raise bad_request(f"Invalid base64 'sample' for {path!r}: {exc}.") from exc
        mode = "regular" if regular or not is_large(path, size, sample, threshold) else "lfs"
        cur = tree.get(path)
        oid = None
        if cur is not None:
            oid = cur.sha1 if mode == "regular" else cur.sha256
        skip = path != ".gitignore" and ignored(path)
        out.append({"path": path, "uploadMode": mode, "shouldIgnore": skip, "oid": oid})
    return h.json_response({"files": out, "commitOid": None})


def _ignore_rules(service: HubService, uploaded: Any, tree: dict[str, Entry]) -> Callable[[str], bool]:
    """The .gitignore being uploaded if any, else the one at the revision (when small), as a matcher."""
    text = uploaded if isinstance(uploaded, str) else None
    entry = tree.get(".gitignore")
    if text is None and entry is not None and entry.size <= 100_000:
        with service.blobs.open(entry.sha256) as fh:
            text = fh.read().decode("utf-8", errors="replace")
    return gitignore.matcher(text) if text else (lambda _path: False)


# --- LFS -----------------------------------------------------------------------------------------------------


def _sign(request: Request, oid: str, size: int, exp: int, repo_pk: int | None = None) -> str:
    key = request.app.state.secret
    scope = "" if repo_pk is None else f":{repo_pk}"
    return hmac.new(key, f"{oid}:{size}:{exp}{scope}".encode(), hashlib.sha256).hexdigest()[:40]


_OID = re.compile(r"^[0-9a-f]{64}$")
MAX_BATCH_OBJECTS = 10_000


def _batch_item(
    db: Session, service: HubService, p: Any, repo: Repo, operation: str, obj: Any, max_size: int
) -> tuple[dict[str, Any], bool]:
    """One object of a batch answer -> (item, needs a signed action). Ownership rules: server/objects.py.

    An object the caller cannot prove it holds is treated exactly as an absent one (upload it / not found),
    whether or not the server stores it for another repo: no answer reveals a hash stored elsewhere."""
    oid = obj.get("oid") if isinstance(obj, dict) else None
    size = obj.get("size") if isinstance(obj, dict) else None
    if not isinstance(oid, str) or not _OID.match(oid) or not h.is_int(size, 0, 2**63 - 1):
        bad = {"code": 422, "message": "oid must be 64 lowercase hex chars, size an integer >= 0"}
        return {
            "oid": str(oid)[:64],
            "size": size if h.is_int(size, 0, 2**63 - 1) else 0,
            "error": bad,
        }, False
    item: dict[str, Any] = {"oid": oid, "size": size}
    if operation == "upload":
        known = objects.provable(db, p, repo.id, oid) and service.blobs.exists(oid)
        if size > max_size:
            item["error"] = {"code": 422, "message": f"object larger than the {max_size}-byte limit"}
            return item, False
    else:
        known = objects.in_repo(db, repo.id, oid) and service.blobs.exists(oid)
    if known and service.blobs.size(oid) != size:
        item["error"] = {"code": 422, "message": f"object {oid} exists in this repo with another size"}
        return item, False
    if operation == "upload":
        if known:
            service.blobs.touch(oid)  # about to be committed: keep it out of garbage collection
        return item, not known
    if not known:
        item["error"] = {"code": 404, "message": f"object {oid} not found"}
        return item, False
    return item, True


async def _lfs_batch(request: Request, repo_type: str, namespace: str, name: str) -> Response:
    body = await h.read_json_object(request)
    return await h.run(_lfs_batch_sync, request, body, repo_type, namespace, name)


def _lfs_batch_sync(
    request: Request, body: dict[str, Any], repo_type: str, namespace: str, name: str
) -> Response:
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
            repo = service.writable_repo(db, p, repo_type, rid)
        else:
            repo = service.readable_repo(db, p, repo_type, rid)
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
async def lfs_batch_model(request: Request, namespace: str, name: str) -> Response:
    """Git LFS batch API (basic transfer): which objects to upload, with signed PUT URLs."""
    return await _lfs_batch(request, "model", namespace, name)


@router.post("/{prefix:typeprefix}/{namespace}/{name}.git/info/lfs/objects/batch", tags=["lfs"])
async def lfs_batch_typed(request: Request, prefix: str, namespace: str, name: str) -> Response:
    return await _lfs_batch(request, h.PLURAL_TO_TYPE[prefix], namespace, name)


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
    if not _OID.match(oid):
        raise bad_request(f"Invalid object id {oid!r}: expected 64 lowercase hex characters.")
    size, repo_pk = _check_signature(request, oid, scoped=True)
    service = h.hub(request)
    sink = AsyncBlobSink(await h.run(service.blobs.writer))
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
    if not _OID.match(oid):
        raise bad_request(f"Invalid object id {oid!r}.")
    _check_signature(request, oid)
    return _serve_blob(h.hub(request), oid, {"ETag": f'"{oid}"'})


async def _lfs_verify(request: Request, repo_type: str, namespace: str, name: str) -> Response:
    body = await h.read_json_object(request)
    return await h.run(_lfs_verify_sync, request, body, repo_type, namespace, name)


def _lfs_verify_sync(
    request: Request, body: dict[str, Any], repo_type: str, namespace: str, name: str
) -> Response:
    p = h.principal(request)
    rid = h.repo_id_from(namespace, name.removesuffix(".git"))
    service = h.hub(request)
    oid, size = body.get("oid"), body.get("size")
    if not isinstance(oid, str) or not _OID.match(oid):
        raise bad_request(f"Invalid object id {oid!r}.")
    with service.sessions() as db:
        repo = service.writable_repo(db, p, repo_type, rid)
        known = objects.provable(db, p, repo.id, oid) and service.blobs.exists(oid)
    if not known:
        raise ApiError(404, f"Object {oid} was not uploaded (or failed verification).", "ObjectNotFound")
    stored = service.blobs.size(oid)
    if isinstance(size, int) and stored != size:
        raise ApiError(422, f"Object {oid} has {stored} bytes, not {size}.", "SizeMismatch")
    return h.json_response({"oid": oid, "size": stored})


@router.post("/{namespace}/{name}.git/info/lfs/objects/verify", tags=["lfs"])
async def lfs_verify_model(request: Request, namespace: str, name: str) -> Response:
    """Confirm an uploaded object exists with the right size (it was hashed before being stored)."""
    return await _lfs_verify(request, "model", namespace, name)


@router.post("/{prefix:typeprefix}/{namespace}/{name}.git/info/lfs/objects/verify", tags=["lfs"])
async def lfs_verify_typed(request: Request, prefix: str, namespace: str, name: str) -> Response:
    return await _lfs_verify(request, h.PLURAL_TO_TYPE[prefix], namespace, name)


# --- commit ----------------------------------------------------------------------------------------------------


_OP_KEYS = ("file", "lfsFile", "deletedFile", "deletedFolder", "copyFile")
# what an operation line may carry into memory (anything else in its value is dropped on arrival)
_KEPT_FIELDS = ("path", "content", "encoding", "oid", "algo", "size", "srcPath", "srcRevision")


class _CommitBuilder:
    """Collects the NDJSON lines of a commit: header, then operations (inline contents already stored)."""

    def __init__(self, service: HubService, threshold: int) -> None:
        self.service = service
        self.threshold = threshold
        self.header: dict[str, Any] | None = None
        self.lines: list[tuple[str, dict[str, Any]]] = []

    async def on_line(self, obj: dict[str, Any]) -> None:
        key, value = obj.get("key"), obj.get("value")
        if not isinstance(value, dict):
            raise bad_request(f"NDJSON line {str(key)[:40]!r} has no object 'value'.")
        if key == "header":
            if self.header is not None:
                raise bad_request("The commit body has two 'header' lines.")
            self.header = {k: value.get(k) for k in ("summary", "description", "parentCommit")}
        elif key in _OP_KEYS:
            value = {k: value[k] for k in _KEPT_FIELDS if k in value}
            if key == "file" and not isinstance(value.get("content"), StreamedBlob):
                value["content"] = await h.run(self._store_inline, value)
            self.lines.append((key, value))
        else:
            raise bad_request(
                f"Unknown NDJSON line key {str(key)[:40]!r}: expected header, file, lfsFile, deletedFile,"
                " deletedFolder or copyFile."
            )

    def _store_inline(self, value: dict[str, Any]) -> Entry:
        content = value.get("content")
        path = value.get("path")
        if not isinstance(content, str):
            raise bad_request(f"The 'file' line for {str(path)[:200]!r} needs a string 'content'.")
        encoding = value.get("encoding", "base64")
        if encoding == "base64":
            try:
                data = b64.decode(content)
            except b64.Base64Error as exc:
                raise bad_request(f"Invalid base64 content for {str(path)[:200]!r}: {exc}.") from exc
        elif encoding in ("utf-8", "utf8"):
            data = content.encode("utf-8", errors="surrogatepass")
        else:
            raise bad_request(f"Unknown encoding {str(encoding)[:40]!r} for {str(path)[:200]!r}: use base64.")
        sha = self.service.blobs.put_bytes(data)
        lfs = is_large(str(path or ""), len(data), data[:512], self.threshold)
        return Entry(sha, len(data), lfs, git_blob_sha1(data))


def _git_sha1_of_blob(service: HubService, sha256: str, size: int) -> str:
    h1 = hashlib.sha1(f"blob {size}\0".encode())
    for chunk in service.blobs.iter_range(sha256, 0, size, 4 << 20):
        h1.update(chunk)
    return h1.hexdigest()


def _remember_sha1(service: HubService, sha256: str, size: int, sha1: str) -> None:
    with service.sessions() as db:
        if db.get(BlobMeta, sha256) is None:
            db.add(BlobMeta(sha256=sha256, size=size, git_sha1=sha1))
            try:
                db.commit()
            except IntegrityError:
                db.rollback()


def _build_ops(
    service: HubService, builder: _CommitBuilder, repo: Repo, p: Principal, base_tree_at: Any
) -> list[Op]:
    ops: list[Op] = []
    for key, value in builder.lines:
        raw_path = value.get("path")
        if key == "deletedFolder" and isinstance(raw_path, str):
            raw_path = raw_path.rstrip("/")
        path = h.check_commit_path(raw_path)
        if key == "file":
            content = value["content"]
            if isinstance(content, StreamedBlob):
                sha1 = _git_sha1_of_blob(service, content.sha256, content.size)
                _remember_sha1(service, content.sha256, content.size, sha1)
                with service.blobs.open(content.sha256) as fh:
                    sample = fh.read(512)
                lfs = is_large(path, content.size, sample, builder.threshold)
                content = Entry(content.sha256, content.size, lfs, sha1)
            ops.append(("add", path, content))
        elif key == "lfsFile":
            ops.append(("add", path, _lfs_entry(service, repo, p, path, value)))
        elif key == "deletedFile":
            ops.append(("delete", path, None))
        elif key == "deletedFolder":
            ops.append(("delete_folder", path.rstrip("/"), None))
        else:  # copyFile: {"path": dest, "srcPath": src, "srcRevision"?: rev} within this repo
            src = h.check_path(value.get("srcPath"))
            src_rev = value.get("srcRevision")
            if src_rev is not None and not isinstance(src_rev, str):
                raise bad_request(f"copyFile {path!r}: 'srcRevision' must be a string.")
            tree = base_tree_at(h.revision_from(quote(src_rev, safe="")) if src_rev else None)
            if src not in tree:
                raise ApiError(
                    404, f"copyFile source {src!r} not found in {repo.repo_id!r}.", "EntryNotFound"
                )
            ops.append(("add", path, tree[src]))
    return ops


def _lfs_entry(service: HubService, repo: Repo, p: Principal, path: str, value: dict[str, Any]) -> Entry:
    """The entry of an ``lfsFile`` line: the object must be one the committer proved it holds (objects.py);
    a missing one and one stored only for repos the committer cannot read get the same answer."""
    oid = value.get("oid")
    if not isinstance(oid, str) or not _OID.match(oid):
        raise bad_request(f"Invalid lfsFile oid {str(oid)[:80]!r} for {path!r}: expected a SHA-256.")
    declared = value.get("size")
    if declared is not None and not h.is_int(declared, 0, 2**63 - 1):
        raise bad_request(f"Invalid lfsFile size {str(declared)[:40]!r} for {path!r}.")
    with service.sessions() as db:
        known = objects.provable(db, p, repo.id, oid) and service.blobs.exists(oid)
        meta = db.get(BlobMeta, oid) if known else None
    if not known:
        raise bad_request(
            f"Large file {path!r} ({oid}) was never uploaded to {repo.repo_id!r}: upload it through the LFS"
            " batch API first."
        )
    size = service.blobs.size(oid)
    if declared is not None and declared != size:
        raise bad_request(f"lfsFile {path!r}: declared size {declared} but the object has {size} bytes.")
    return Entry(oid, size, True, meta.git_sha1 if meta else None)


@router.post(REPO + "/commit/{revision}", tags=["upload"])
async def commit(request: Request, plural: str, namespace: str, name: str, revision: str) -> Response:
    """Apply an NDJSON commit (header + file / lfsFile / deletedFile / deletedFolder / copyFile lines) atomically."""
    rid = h.repo_id_from(namespace, name)
    rev = h.revision_from(revision)
    create_pr = request.query_params.get("create_pr") in ("1", "true", "True")
    service = h.hub(request)
    settings = h.settings(request)

    def target() -> tuple[Principal, Repo, str]:
        p = h.principal(request)
        with service.sessions() as db:
            repo = service.writable_repo(db, p, h.PLURAL_TO_TYPE[plural], rid)
            assert p is not None
            return p, repo, _commit_target(db, repo, rev)

    p, repo, ref_name = await h.run(target)
    builder = _CommitBuilder(service, settings.large_file_threshold)
    bounds = Limits(
        max_lines=settings.max_commit_operations + 1, max_metadata_bytes=settings.max_commit_metadata
    )
    await parse_ndjson(request.stream(), service.blobs, builder.on_line, bounds)
    header = builder.header or {}
    title = str(header.get("summary") or "Upload files")[:10_000]
    message = str(header.get("description") or "")[:1_000_000]
    parent = header.get("parentCommit")
    if parent is not None and (not isinstance(parent, str) or not re.match(r"^[0-9a-f]{40}$", parent)):
        raise bad_request(f"Invalid parentCommit {str(parent)[:80]!r}: expected a 40-hex commit id.")

    def tree_at(src_rev: str | None):
        with service.sessions() as db:
            return service.commit_tree(db, service.resolve(db, repo, src_rev or rev))

    def work() -> dict[str, Any]:
        ops = _build_ops(service, builder, repo, p, tree_at)
        base = h.repo_web_url(request, repo.type, repo.repo_id)
        if create_pr:
            opened: list[int] = []

            def open_pr(db, cid: str) -> None:
                disc = open_discussion(
                    db,
                    repo,
                    author=p.name,
                    title=title,
                    description=message,
                    is_pr=True,
                    head=cid,
                    target=ref_name,
                )
                add_event(db, disc, "commit", p.name, {"subject": title, "oid": cid})
                opened.append(disc.num)

            cid = service.commit_detached(
                repo,
                ref_name,
                ops,
                author=p.name,
                title=title,
                message=message,
                parent_commit=parent,
                on_commit=open_pr,
            )
            return {
                "success": True,
                "commitOid": cid,
                "commitUrl": f"{base}/commit/{cid}",
                "pullRequestUrl": f"{base}/discussions/{opened[0]}",
                "hookOutput": "",
            }
        on_commit = _pr_hook(repo, ref_name, p.name, title) if ref_name.startswith("refs/pr/") else None
        cid = service.commit(
            repo,
            ref_name,
            ops,
            author=p.name,
            title=title,
            message=message,
            parent_commit=parent,
            on_commit=on_commit,
        )
        return {"success": True, "commitOid": cid, "commitUrl": f"{base}/commit/{cid}", "hookOutput": ""}

    return h.json_response(await h.run(work))


def _commit_target(db, repo: Repo, rev: str) -> str:
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


def _pr_hook(repo: Repo, ref_name: str, author: str, title: str) -> Callable[[Session, str], None]:
    num = int(ref_name.removeprefix("refs/pr/"))

    def hook(db, cid: str) -> None:
        disc = db.scalar(select(Discussion).where(Discussion.repo_pk == repo.id, Discussion.num == num))
        if disc is not None:
            add_event(db, disc, "commit", author, {"subject": title, "oid": cid})
            if disc.status == "draft":
                db.execute(update(Discussion).where(Discussion.id == disc.id).values(status="open"))

    return hook


# --- downloads -----------------------------------------------------------------------------------------------------


class _BlobFileResponse(FileResponse):
    chunk_size = 1 << 20


def _serve_blob(service: HubService, sha256: str, headers: dict[str, str]) -> Response:
    path = service.blobs.local_path(sha256)
    if path is None:  # pragma: no cover - remote stores redirect instead (S3 store, later)
        raise ApiError(500, "This blob store cannot serve files directly.", "Internal")
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
    cid = service.resolve_cached(snap, rev)
    tree = service.cached_commit_tree(cid)
    entry = tree.get(rel)
    if entry is None:
        raise entry_not_found(rid, rev, rel, cid)
    headers = {"X-Repo-Commit": cid, "Accept-Ranges": "bytes", "Cache-Control": "private, max-age=0"}
    if entry.lfs:
        headers.update(
            {
                "ETag": f'"{entry.sha256}"',
                "X-Linked-Etag": f'"{entry.sha256}"',
                "X-Linked-Size": str(entry.size),
            }
        )
    else:
        headers["ETag"] = f'"{entry.oid}"'
    headers["Content-Disposition"] = f"inline; filename*=UTF-8''{quote(rel.rsplit('/', 1)[-1])}"
    if request.method == "HEAD":
        headers["Content-Length"] = str(entry.size)
        return Response(status_code=200, headers=headers, media_type="application/octet-stream")
    if entry.size <= SMALL_FILE and "range" not in request.headers:
        with service.blobs.open(entry.sha256) as fh:  # small: one read beats a threaded file stream
            return Response(fh.read(), headers=headers, media_type="application/octet-stream")
    return _serve_blob(service, entry.sha256, headers)


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
