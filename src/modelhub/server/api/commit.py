"""Writes: preupload (how each file should travel) and the NDJSON commit (header + file / lfsFile / deletedFile / deletedFolder / copyFile lines, applied atomically)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.responses import Response

from ..domain import gitignore, objects, xetfiles
from ..domain.accounts import Principal
from ..domain.discussions import (
    add_event,
    check_commit_permission,
    commit_target,
    open_discussion,
    pr_commit_hook,
)
from ..domain.hub import HubService, Op
from ..domain.trees import Entry, git_blob_sha1
from ..storage.db import BlobMeta, Repo
from . import _http as h
from . import b64, limits
from .errors import ApiError, NotFound, bad_request
from .ndjson import Limits, StreamedBlob, parse_ndjson
from .upload_policy import client_wants_regular, is_large

router = APIRouter()
MAX_PREUPLOAD_FILES = 10_000
REPO = "/api/{plural:plural}/{namespace}/{name}"


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
        repo = service.uploadable_repo(db, p, h.PLURAL_TO_TYPE[plural], rid)
        try:
            tree = service.commit_tree(db, service.resolve(db, repo, rev))
        except NotFound:
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
    """The .gitignore being uploaded if any (400 past gitignore's bounds), else the first ``MAX_BYTES`` of the one
    at the revision, as a matcher (400 once matching passes ``gitignore.MAX_WORK``)."""
    try:
        if isinstance(uploaded, str):
            ignored = gitignore.matcher(uploaded)
        elif (entry := tree.get(".gitignore")) is not None:
            with service.content.open(entry.sha256) as fh:
                text = fh.read(gitignore.MAX_BYTES + 1).decode("utf-8", errors="replace")
            ignored = gitignore.matcher(text, strict=False)
        else:
            return lambda _path: False
    except gitignore.GitignoreTooLarge as exc:
        raise bad_request(str(exc)) from exc

    def checked(path: str) -> bool:
        try:
            return ignored(path)
        except gitignore.GitignoreTooLarge as exc:
            raise bad_request(str(exc)) from exc

    return checked


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
    if not isinstance(oid, str) or not limits.OID.match(oid):
        raise bad_request(f"Invalid lfsFile oid {str(oid)[:80]!r} for {path!r}: expected a SHA-256.")
    declared = value.get("size")
    if declared is not None and not h.is_int(declared, 0, 2**63 - 1):
        raise bad_request(f"Invalid lfsFile size {str(declared)[:40]!r} for {path!r}.")
    with service.sessions() as db:
        # the bytes may be a blob (LFS) or a Xet file (registered by a verified shard): the same object
        size = (
            xetfiles.content_size(db, service.blobs, oid) if objects.provable(db, p, repo.id, oid) else None
        )
        meta = db.get(BlobMeta, oid) if size is not None else None
    if size is None:
        raise bad_request(
            f"Large file {path!r} ({oid}) was never uploaded to {repo.repo_id!r}: upload it through Xet or the"
            " LFS batch API first (with a Xet upload, its shard must have been accepted)."
        )
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
            repo = service.uploadable_repo(db, p, h.PLURAL_TO_TYPE[plural], rid)
            assert p is not None
            ref_name = commit_target(db, repo, rev)
            check_commit_permission(db, p, repo, ref_name, create_pr)
            return p, repo, ref_name

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
        opened: list[int] = []  # the PR that create_pr opens, set inside the commit's transaction
        if create_pr:

            def open_pr(db: Session, cid: str) -> None:
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

            on_commit: Callable[[Session, str], None] | None = open_pr
        elif ref_name.startswith("refs/pr/"):
            on_commit = pr_commit_hook(repo, ref_name, p.name, title)
        else:
            on_commit = None
        land = service.commit_detached if create_pr else service.commit
        cid = land(
            repo,
            ref_name,
            ops,
            author=p.name,
            title=title,
            message=message,
            parent_commit=parent,
            on_commit=on_commit,
        )
        out = {"success": True, "commitOid": cid, "commitUrl": f"{base}/commit/{cid}", "hookOutput": ""}
        if create_pr:
            out["pullRequestUrl"] = f"{base}/discussions/{opened[0]}"
        return out

    return h.json_response(await h.run(work))
