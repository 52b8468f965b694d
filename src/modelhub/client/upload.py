"""Commits: ``create_commit`` (preupload, LFS transfer, NDJSON commit), ``upload_file`` and ``upload_folder``.

A commit is atomic on the hub: either every operation lands in one new commit, or none does. The flow is the one of
protocol section 5: ``preupload`` tells which files go by LFS and which the hub already has (those are dropped;
if nothing is left the commit is skipped and the current head is returned), LFS content is sent by the batch API
(skipped for objects the hub already stores) or, when ``hf_xet`` is installed and the hub offers it, through Xet
(``xet.py``), then one NDJSON ``commit`` request carries the operations, small files inline in base64, streamed
from disk.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

from .._common.validation import is_commit_hash, validate_repo_id, validate_repo_type, validate_revision
from ..constants import DEFAULT_REVISION, REPO_TYPES_API_PLURAL
from ..errors import HFValidationError, HubError, RemoteEntryNotFoundError, RevisionNotFoundError
from . import http, xet
from ._parallel import map_in_threads
from ._revisions import forget_resolved_revisions
from .lfs import upload_lfs_files
from .operations import CommitOperation, CommitOperationAdd, CommitOperationCopy, CommitOperationDelete
from .patterns import filter_paths, normalize_patterns
from .types import CommitInfo, RepoInfo, repo_web_url

logger = logging.getLogger(__name__)

PREUPLOAD_BATCH = 256
# base64 works on 3-byte groups: read multiples of 3 so chunks encode independently
B64_READ = 3 * 256 * 1024
FOLDER_ALWAYS_IGNORED = [".git/*", "*/.git/*", ".cache/huggingface/*", "*/.cache/huggingface/*"]


class ApiLike(Protocol):
    """What these functions need of the ``api.HubApi`` they are called with (``HubApi`` calls them with itself).

    Spelled out here rather than imported because ``api`` imports this module: ``upload`` must not import ``api``,
    not even for type checking, so that the client's modules stay acyclic (see docs/architecture.md)."""

    proxies: dict[str, str] | None

    def endpoint_url(self) -> str: ...

    def headers(self, token: str | bool | None = None) -> dict[str, str]: ...

    def repo_info(
        self,
        repo_id: str,
        *,
        revision: str | None = None,
        repo_type: str | None = None,
        token: str | bool | None = None,
    ) -> RepoInfo: ...

    def list_repo_files(
        self,
        repo_id: str,
        *,
        revision: str | None = None,
        repo_type: str | None = None,
        token: str | bool | None = None,
    ) -> list[str]: ...


def _q(value: str) -> str:
    return http.quote_segment(value)


def _preupload(
    api: ApiLike,
    additions: list[CommitOperationAdd],
    *,
    repo_id: str,
    repo_type: str,
    revision: str,
    headers: dict[str, str],
    create_pr: bool,
) -> None:
    """Ask the hub, 256 files at a time, how each file travels (lfs/regular) and what it already has there."""
    endpoint = api.endpoint_url()
    url = f"{endpoint}/api/{REPO_TYPES_API_PLURAL[repo_type]}/{repo_id}/preupload/{_q(revision)}"
    gitignore = next((op for op in additions if op.path_in_repo == ".gitignore"), None)
    for start in range(0, len(additions), PREUPLOAD_BATCH):
        chunk = additions[start : start + PREUPLOAD_BATCH]
        payload: dict[str, Any] = {
            "files": [
                {"path": op.path_in_repo, "sample": op.b64_sample(), "size": op.upload_info.size}
                for op in chunk
            ]
        }
        if gitignore is not None and gitignore.upload_info.size < 1024 * 1024:
            payload["gitIgnore"] = b"".join(gitignore.iter_chunks()).decode("utf-8", "replace")
        response = http.request(
            "POST",
            url,
            headers=headers,
            params={"create_pr": "1"} if create_pr else None,
            json=payload,
            proxies=api.proxies,
            idempotent=True,
            ctx=http.Context(
                repo_id=repo_id, repo_type=repo_type, revision=revision, endpoint=endpoint, action="upload"
            ),
        )
        answers = {item["path"]: item for item in response.json().get("files", [])}
        for op in chunk:
            info = answers.get(op.path_in_repo)
            if info is None:
                raise HubError(
                    f"The hub's preupload answer has no entry for {op.path_in_repo!r}; cannot commit."
                )
            mode = info.get("uploadMode")
            if mode not in ("lfs", "regular"):
                raise HubError(
                    f"The hub's preupload answer for {op.path_in_repo!r} has an unknown uploadMode {mode!r}."
                )
            op._upload_mode = "regular" if op.upload_info.size == 0 else mode
            op._should_ignore = bool(info.get("shouldIgnore", False))
            op._remote_oid = info.get("oid")


def _b64_file_line(op: CommitOperationAdd) -> Iterator[bytes]:
    head = json.dumps(
        {"key": "file", "value": {"path": op.path_in_repo, "encoding": "base64", "content": ""}}
    )
    # split the JSON at the empty content string so the base64 streams in between
    before, after = head.rsplit('"content": ""', 1)
    yield (before + '"content": "').encode()
    for chunk in op.iter_chunks(chunk_size=B64_READ):
        yield base64.b64encode(chunk)
    yield ('"' + after + "\n").encode()


def _commit_lines(
    header: dict[str, Any],
    additions: list[CommitOperationAdd],
    copies: list[dict[str, Any]],
    deletions: list[CommitOperationDelete],
    order: list[CommitOperation],
) -> Iterator[bytes]:
    yield (json.dumps({"key": "header", "value": header}) + "\n").encode()
    copy_iter = iter(copies)
    kept = {id(op) for op in additions}
    for op in order:
        if isinstance(op, CommitOperationAdd):
            if id(op) not in kept:
                continue
            if op._upload_mode == "lfs":
                value = {
                    "path": op.path_in_repo,
                    "algo": "sha256",
                    "oid": op.upload_info.sha256,
                    "size": op.upload_info.size,
                }
                yield (json.dumps({"key": "lfsFile", "value": value}) + "\n").encode()
            else:
                yield from _b64_file_line(op)
        elif isinstance(op, CommitOperationDelete):
            key = "deletedFolder" if op.is_folder else "deletedFile"
            yield (json.dumps({"key": key, "value": {"path": op.path_in_repo}}) + "\n").encode()
        elif isinstance(op, CommitOperationCopy):
            yield (json.dumps(next(copy_iter)) + "\n").encode()


def _resolve_copies(
    api: ApiLike,
    copies: list[CommitOperationCopy],
    *,
    repo_id: str,
    repo_type: str,
    revision: str,
    headers: dict[str, str],
) -> list[dict[str, Any]]:
    """Turn copies into commit lines: ``lfsFile`` for LFS sources, inline ``file`` (downloaded) for small ones."""
    endpoint = api.endpoint_url()
    lines = []
    by_rev: dict[str, list[str]] = {}
    for op in copies:
        by_rev.setdefault(op.src_revision or revision, []).append(op.src_path_in_repo)
    infos: dict[tuple[str, str], dict[str, Any]] = {}
    for rev, paths in by_rev.items():
        url = f"{endpoint}/api/{REPO_TYPES_API_PLURAL[repo_type]}/{repo_id}/paths-info/{_q(rev)}"
        response = http.request(
            "POST",
            url,
            headers=headers,
            data={"paths": sorted(set(paths)), "expand": "false"},
            proxies=api.proxies,
            idempotent=True,
            ctx=http.Context(repo_id=repo_id, repo_type=repo_type, revision=rev, endpoint=endpoint),
        )
        for entry in response.json():
            infos[(rev, entry["path"])] = entry
    for op in copies:
        rev = op.src_revision or revision
        entry = infos.get((rev, op.src_path_in_repo))
        if entry is None or entry.get("type") != "file":
            raise RemoteEntryNotFoundError(
                f"Cannot copy {op.src_path_in_repo!r} to {op.path_in_repo!r}: it is not a file of {repo_id!r} at "
                f"revision {rev!r}."
            )
        if entry.get("lfs"):
            value = {
                "path": op.path_in_repo,
                "algo": "sha256",
                "oid": entry["lfs"]["oid"],
                "size": entry["lfs"]["size"],
            }
            lines.append({"key": "lfsFile", "value": value})
        else:
            src_url = f"{repo_web_url(endpoint, repo_id, repo_type)}/resolve/{_q(rev)}/{http.quote_path(op.src_path_in_repo)}"
            content = http.request(
                "GET",
                src_url,
                headers=headers,
                proxies=api.proxies,
                ctx=http.Context(
                    repo_id=repo_id,
                    repo_type=repo_type,
                    revision=rev,
                    filename=op.src_path_in_repo,
                    endpoint=endpoint,
                ),
            ).content
            value = {
                "path": op.path_in_repo,
                "encoding": "base64",
                "content": base64.b64encode(content).decode(),
            }
            lines.append({"key": "file", "value": value})
    return lines


def create_commit(
    api: ApiLike,
    repo_id: str,
    operations: Iterable[CommitOperation],
    *,
    commit_message: str,
    commit_description: str | None = None,
    token: str | bool | None = None,
    repo_type: str | None = None,
    revision: str | None = None,
    create_pr: bool | None = None,
    parent_commit: str | None = None,
    num_threads: int = 5,
) -> CommitInfo:
    """Create one commit with ``operations`` on ``revision`` (a branch, or ``refs/pr/N``), or open a PR."""
    validate_repo_id(repo_id, allow_bare_name=True)
    repo_type = validate_repo_type(repo_type)
    revision = validate_revision(revision if revision is not None else DEFAULT_REVISION)
    if not commit_message or not str(commit_message).strip():
        raise HFValidationError("commit_message must be a non-empty string: say what the commit does.")
    if parent_commit is not None and not is_commit_hash(parent_commit):
        raise HFValidationError(f"parent_commit must be a 40-hex commit id, not {parent_commit!r}.")
    operations = list(operations)
    for op in operations:
        if not isinstance(op, (CommitOperationAdd, CommitOperationDelete, CommitOperationCopy)):
            raise TypeError(f"Unknown commit operation {op!r}: use CommitOperationAdd/Delete/Copy.")
    endpoint = api.endpoint_url()
    headers = api.headers(token)
    additions = [op for op in operations if isinstance(op, CommitOperationAdd)]
    deletions = [op for op in operations if isinstance(op, CommitOperationDelete)]
    copies = [op for op in operations if isinstance(op, CommitOperationCopy)]

    if additions:
        _preupload(
            api,
            additions,
            repo_id=repo_id,
            repo_type=repo_type,
            revision=revision,
            headers=headers,
            create_pr=bool(create_pr),
        )
    kept = []
    for op in additions:
        if op._should_ignore:
            logger.info("skipping %s: ignored by the hub's .gitignore rules", op.path_in_repo)
        elif op.is_noop():
            logger.info("skipping %s: unchanged on the hub", op.path_in_repo)
        else:
            kept.append(op)
    if operations and not kept and not deletions and not copies:
        # every file is already there: no empty commit, answer with the current head
        info = api.repo_info(repo_id, repo_type=repo_type, revision=revision, token=token)
        logger.info("nothing to commit to %s@%s: every file is unchanged", repo_id, revision)
        web = repo_web_url(endpoint, repo_id, repo_type)
        return CommitInfo(
            f"{web}/commit/{info.sha}",
            commit_message,
            commit_description or "",
            info.sha or "",
            endpoint=endpoint,
        )

    lfs_ops = [op for op in kept if op._upload_mode == "lfs"]
    if lfs_ops and xet.usable():
        lfs_ops = _upload_xet(api, lfs_ops, repo_id, repo_type, revision, headers, bool(create_pr))
    if lfs_ops:
        upload_lfs_files(
            lfs_ops,
            endpoint=endpoint,
            repo_id=repo_id,
            repo_type=repo_type,
            revision=None if create_pr else revision,
            headers=headers,
            proxies=api.proxies,
            num_threads=num_threads,
        )
    copy_lines = (
        _resolve_copies(api, copies, repo_id=repo_id, repo_type=repo_type, revision=revision, headers=headers)
        if copies
        else []
    )

    header: dict[str, Any] = {"summary": commit_message, "description": commit_description or ""}
    if parent_commit is not None:
        header["parentCommit"] = parent_commit

    def body() -> Iterator[bytes]:
        return _commit_lines(header, kept, copy_lines, deletions, operations)

    url = f"{endpoint}/api/{REPO_TYPES_API_PLURAL[repo_type]}/{repo_id}/commit/{_q(revision)}"
    try:
        response = http.request(
            "POST",
            url,
            headers={**headers, "content-type": "application/x-ndjson"},
            params={"create_pr": "1"} if create_pr else None,
            content=body,
            proxies=api.proxies,
            timeout=http.httpx.Timeout(600.0, connect=10.0),
            ctx=http.Context(
                repo_id=repo_id, repo_type=repo_type, revision=revision, endpoint=endpoint, action="commit"
            ),
        )
    finally:
        forget_resolved_revisions(repo_id, repo_type)
    data = response.json()
    return CommitInfo(
        data["commitUrl"],
        commit_message,
        commit_description or "",
        data["commitOid"],
        data.get("pullRequestUrl") if create_pr else None,
        endpoint=endpoint,
    )


def _upload_xet(
    api: ApiLike,
    ops: list[CommitOperationAdd],
    repo_id: str,
    repo_type: str,
    revision: str,
    headers: dict[str, str],
    create_pr: bool,
) -> list[CommitOperationAdd]:
    """Send the large files (paths and bytes) through Xet if the hub offers it; returns what is left for LFS
    (file objects, or everything when the hub has no Xet)."""
    plural = REPO_TYPES_API_PLURAL[repo_type]
    url = xet.token_url(api.endpoint_url(), plural, repo_id, "write", revision, create_pr)
    sendable = [op for op in ops if isinstance(op.path_or_fileobj, (str, bytes))]
    if not sendable or not xet.offered(url, headers, api.proxies):
        return ops
    sources = [(op.path_or_fileobj, op.upload_info.sha256) for op in sendable]
    got = xet.upload(sources, refresh_url=url, headers=headers)  # type: ignore[arg-type]  # str | bytes, filtered above
    for op, sha in zip(sendable, got, strict=True):
        if sha != op.upload_info.sha256:
            raise HubError(
                f"{op.path_in_repo!r} changed while it was uploaded (SHA-256 {sha}, expected"
                f" {op.upload_info.sha256}); upload it again."
            )
    logger.info("uploaded %d file(s) to %s through Xet", len(sendable), repo_id)
    sent = {id(op) for op in sendable}
    return [op for op in ops if id(op) not in sent]


def upload_folder_operations(
    api: ApiLike,
    *,
    repo_id: str,
    folder_path: str | os.PathLike[str],
    path_in_repo: str | None,
    repo_type: str,
    revision: str,
    token: str | bool | None,
    allow_patterns: str | list[str] | None,
    ignore_patterns: str | list[str] | None,
    delete_patterns: str | list[str] | None,
) -> list[CommitOperation]:
    """The operations of ``upload_folder``: additions for matching files, deletions for ``delete_patterns``."""
    folder = Path(folder_path).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(
            f"Cannot upload folder {str(folder_path)!r}: "
            f"{'it is a file (use upload_file)' if folder.is_file() else 'no such directory'}."
        )
    prefix = (path_in_repo or "").strip("/")
    if prefix in (".", ""):
        prefix = ""
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    ignore = (normalize_patterns(ignore_patterns) or []) + FOLDER_ALWAYS_IGNORED
    selected = filter_paths(files, allow_patterns=allow_patterns, ignore_patterns=ignore)

    # hashing releases the GIL: hash several files at once (the official client hashes one after the other)
    def make(rel: str) -> CommitOperation:
        return CommitOperationAdd(
            path_in_repo=f"{prefix}/{rel}" if prefix else rel, path_or_fileobj=folder / rel
        )

    additions: list[CommitOperation] = map_in_threads(make, selected, min(4, os.cpu_count() or 1))
    if delete_patterns is None:
        return additions
    added = {op.path_in_repo for op in additions}
    try:
        remote = api.list_repo_files(repo_id, revision=revision, repo_type=repo_type, token=token)
    except RevisionNotFoundError:
        remote = []
    deletions: list[CommitOperation] = []
    for path in remote:
        if prefix and not path.startswith(prefix + "/"):
            continue
        rel = path[len(prefix) + 1 :] if prefix else path
        if path in added or path == ".gitattributes":
            continue
        if filter_paths([rel], allow_patterns=delete_patterns):
            deletions.append(CommitOperationDelete(path_in_repo=path, is_folder=False))
    return deletions + additions
