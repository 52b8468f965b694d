"""Downloads into the Hugging Face cache: ``hub_download`` (alias ``hf_hub_download``) and ``snapshot_download``.

Guarantees:

- **Atomic**: content goes to ``blobs/<etag>.incomplete``, is checked (size; sha256 for LFS files, git sha1 for the
  others) and only then renamed to ``blobs/<etag>``; the snapshot symlink is made last. A failed check removes the
  partial file; an interrupted transfer keeps it so the next attempt (in this call or a later run) resumes with
  ``Range``.
- **Once**: a file lock per blob (``.locks/<repo>/<etag>.lock``, the path the official client uses too) makes
  concurrent processes download a blob once; the others find it in the cache.
- **Few requests**: files of a commit are immutable, so a 40-hex revision already in the cache costs no request.
  A branch or tag is resolved to a commit once per ``revision_scope()`` block (the mixins' ``from_pretrained``
  opens one, so a warm-cache load costs one request and reads one consistent commit); outside a block it can be
  remembered for ``MODELHUB_REVISION_CACHE_TTL`` seconds (default 0: always ask, never a stale read); our own
  commits to a repo forget its resolutions (that memory lives in ``_revisions``). ``trees/<commit>.json`` tells
  which files a commit has, so known-missing files raise without a request. ``HF_HUB_OFFLINE=1``: no request at all.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from .. import constants
from .._common.validation import (
    is_commit_hash,
    validate_path_in_repo,
    validate_repo_id,
    validate_repo_type,
    validate_revision,
)
from ..errors import (
    CorruptedFileError,
    FileMetadataError,
    GatedRepoError,
    HfHubHTTPError,
    HubConnectionError,
    IncompleteSnapshotError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
    UnauthorizedError,
)
from . import http, xet
from ._parallel import map_in_threads
from ._revisions import commit_of, resolved_get, resolved_key, resolved_put
from ._revisions import forget_resolved_revisions as forget_resolved_revisions  # re-exported
from ._revisions import revision_scope as revision_scope  # re-exported
from ._transfer import FileMetadata, fetch_to, head_metadata
from .cache_layout import (
    RepoCache,
    TreeEntry,
    is_sha256,
    is_xet_hash,
    local_dir_paths,
    read_local_dir_metadata,
    safe_commit,
    write_local_dir_metadata,
)
from .patterns import filter_paths
from .types import repo_web_url

logger = logging.getLogger(__name__)


def _headers(
    token: str | bool | None,
    headers: dict[str, str] | None,
    library_name: str | None,
    library_version: str | None,
    user_agent: Any,
) -> dict[str, str]:
    return http.build_headers(
        token,
        library_name=library_name,
        library_version=library_version,
        user_agent_extra=user_agent,
        headers={"x-hf-download-counter": "1", **(headers or {})},
    )


def _present(pointer: Path) -> bool:
    """A snapshot entry exists (a dangling symlink counts: its blob was deleted, the file is damaged)."""
    return pointer.is_symlink() or pointer.exists()


def _usable(
    rc: RepoCache,
    pointer: Path,
    etag: str | None,
    size: int | None,
    *,
    label: str,
    damaged: Callable[[str], Exception] | None,
) -> bool:
    """Whether the cached ``pointer`` can be served: present and intact (see ``RepoCache.check_cached``).

    A damaged file is never served. With ``damaged`` (no way to fetch it again: offline, hub down) the error it
    builds is raised; otherwise the damage is reported once (one warning), the file is removed from the cache and
    False is returned, so the caller downloads it again.
    """
    try:
        problem = rc.check_cached(pointer, etag, size)
    except FileNotFoundError:
        return False
    if problem is None:
        return True
    if damaged is not None:
        raise damaged(problem)
    logger.warning("the cached %s of %s is damaged: %s; downloading it again", label, rc.repo_id, problem)
    rc.discard(pointer, etag)
    return False


def _damaged(
    repo_id: str, path: str, revision: str, pointer: Path, why: str
) -> Callable[[str], CorruptedFileError]:
    def build(problem: str) -> CorruptedFileError:
        return CorruptedFileError(
            f"The cached copy of {path!r} of {repo_id!r} at revision {revision!r} is damaged: {problem} "
            f"({pointer}). It was not used, and it cannot be downloaded again because {why}. Fix: run the same "
            "call online (it replaces the damaged file), or remove it first with `modelhub cache prune --verify`."
        )

    return build


def _ensure_file(
    rc: RepoCache,
    commit: str,
    path: str,
    entry: TreeEntry,
    *,
    url: str,
    headers: dict[str, str],
    proxies: http.ProxiesT,
    endpoint: str,
    force_download: bool,
) -> Path:
    """Make ``snapshots/<commit>/<path>`` exist and be intact, downloading its blob unless another download
    already did (a damaged cached copy is reported once and replaced)."""
    pointer = rc.snapshot_path(commit, path)
    etag = entry.etag
    if not force_download and _usable(rc, pointer, etag, entry.size, label=path, damaged=None):
        return pointer
    blob = rc.blob_path(etag)
    rc.ensure_cachedir_tag()
    lock_path = rc.lock_path(etag)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    blob.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(lock_path)):
        # a blob another snapshot (or another process, meanwhile) brought in is reused when it is intact
        if force_download or not _usable(rc, blob, etag, entry.size, label=path, damaged=None):
            blob.unlink(missing_ok=True)
            xet_source = None
            if entry.xet_hash and entry.lfs_sha256:
                plural = constants.REPO_TYPES_API_PLURAL[rc.repo_type]
                refresh = xet.token_url(endpoint, plural, rc.repo_id, "read", commit)
                xet_source = (entry.xet_hash, refresh)
            fetch_to(
                url,
                dest=blob,
                incomplete=rc.incomplete_path(etag),
                expected_size=entry.size,
                etag=etag,
                headers=headers,
                proxies=proxies,
                endpoint=endpoint,
                label=path,
                xet_source=xet_source,
            )
            # fetch_to checked size and hash: no need to hash it again on the next read
            rc.mark_verified(blob, etag)
        pointer = rc.link_snapshot(commit, path, etag)
        if not pointer.is_symlink():  # a copy of the verified blob (no symlinks here)
            rc.mark_verified(pointer, etag)
        return pointer


def _resolve_url(endpoint: str, repo_id: str, repo_type: str, revision: str, path: str) -> str:
    return f"{repo_web_url(endpoint, repo_id, repo_type)}/resolve/{http.quote_segment(revision)}/{http.quote_path(path)}"


def _pinned(meta: FileMetadata, head_url: str, endpoint: str, repo_id: str, repo_type: str, path: str) -> str:
    """The URL to GET after a HEAD: a redirect target as is; the HEAD's own URL pinned to the commit it answered,
    so the bytes match its ETag even if the branch moves in between."""
    if meta.location != head_url:
        return meta.location
    return _resolve_url(endpoint, repo_id, repo_type, meta.commit, path)


def _missing(repo_id: str, path: str, revision: str, commit: str) -> RemoteEntryNotFoundError:
    return RemoteEntryNotFoundError(
        f"File {path!r} does not exist in {repo_id!r} at revision {revision!r} (commit {commit[:12]}); check the "
        "name (list the files with `list_repo_files`)."
    )


def _local_not_found(
    repo_id: str, path: str, revision: str, why: str, cause: Exception | None = None
) -> LocalEntryNotFoundError:
    err = LocalEntryNotFoundError(
        f"{path!r} of {repo_id!r} at revision {revision!r} is not in the local cache and {why}. "
        "Go online (unset HF_HUB_OFFLINE / local_files_only) or check the repo id, file name and revision."
    )
    err.__cause__ = cause
    return err


def hub_download(
    repo_id: str,
    filename: str,
    *,
    subfolder: str | None = None,
    repo_type: str | None = None,
    revision: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    local_dir: str | os.PathLike[str] | None = None,
    force_download: bool = False,
    proxies: dict[str, str] | None = None,
    token: str | bool | None = None,
    local_files_only: bool = False,
    endpoint: str | None = None,
    etag_timeout: float | None = None,
    headers: dict[str, str] | None = None,
    library_name: str | None = None,
    library_version: str | None = None,
    user_agent: dict[str, str] | str | None = None,
    # Accepted so that code written for older huggingface_hub releases runs unchanged; both are no-ops here
    # (downloads always resume; local_dir always receives real files).
    resume_download: bool | None = None,
    local_dir_use_symlinks: bool | str | None = None,
) -> str:
    """Download one file of a repo (or find it in the cache) and return its local path."""
    validate_repo_id(repo_id, allow_bare_name=True)
    repo_type = validate_repo_type(repo_type)
    revision = commit_of(revision, repo_id, repo_type)
    revision = validate_revision(revision if revision is not None else constants.DEFAULT_REVISION)
    path = validate_path_in_repo(f"{subfolder.strip('/')}/{filename}" if subfolder else filename)
    endpoint = (endpoint or constants.endpoint()).rstrip("/")
    offline = local_files_only or constants.is_offline()
    why_offline = "local_files_only=True" if local_files_only else "offline mode is on (HF_HUB_OFFLINE=1)"
    if local_dir is not None:
        return _download_to_local_dir(
            repo_id,
            path,
            repo_type=repo_type,
            revision=revision,
            local_dir=Path(local_dir),
            force_download=force_download,
            proxies=proxies,
            endpoint=endpoint,
            offline=offline,
            why_offline=why_offline,
            etag_timeout=etag_timeout,
            headers=_headers(token, headers, library_name, library_version, user_agent),
        )
    rc = RepoCache(cache_dir, repo_id, repo_type)
    req_headers = None if offline else _headers(token, headers, library_name, library_version, user_agent)
    key = resolved_key(endpoint, repo_type, repo_id, revision, (req_headers or {}).get("authorization"))

    # 1. no request when the commit is known and the cache has (or knows the absence of) the file
    commit = (
        rc.read_ref(revision) if offline else (revision if is_commit_hash(revision) else resolved_get(key))
    )
    if commit is not None:
        tree = rc.read_tree(commit)
        entry = tree.get(path) if tree is not None else None
        pointer = rc.snapshot_path(commit, path)
        if not force_download and _usable(
            rc,
            pointer,
            entry.etag if entry else None,
            entry.size if entry else None,
            label=path,
            damaged=_damaged(repo_id, path, revision, pointer, why_offline) if offline else None,
        ):
            return str(pointer)
        if rc.is_known_missing(commit, path):
            raise _missing(repo_id, path, revision, commit)
        if tree is not None and entry is None:
            rc.mark_missing(commit, path)  # so try_to_load_from_cache-style readers know it too
            raise _missing(repo_id, path, revision, commit)
        if entry is not None and not offline:
            url = _resolve_url(endpoint, repo_id, repo_type, commit, path)
            return str(
                _ensure_file(
                    rc,
                    commit,
                    path,
                    entry,
                    url=url,
                    headers=req_headers or {},
                    proxies=proxies,
                    endpoint=endpoint,
                    force_download=force_download,
                )
            )
    if offline:
        raise _local_not_found(repo_id, path, revision, why_offline)

    # 2. one HEAD for the commit, ETag and size; at the commit already resolved in this scope, if any, so that
    # every file of a load comes from the same commit even when the branch moves meanwhile
    ctx = http.Context(
        repo_id=repo_id, repo_type=repo_type, revision=revision, filename=path, endpoint=endpoint
    )
    cached = rc.read_ref(revision)
    cached_pointer = rc.snapshot_path(cached, path) if cached and not force_download else None
    has_cached = cached_pointer is not None and _present(cached_pointer)
    head_url = _resolve_url(endpoint, repo_id, repo_type, commit or revision, path)
    try:
        meta = head_metadata(
            head_url,
            headers=req_headers or {},
            proxies=proxies,
            timeout=etag_timeout or constants.etag_timeout(),
            ctx=ctx,
            retry=not has_cached,  # a hub that is down should not delay serving the cached copy
        )
    except RemoteEntryNotFoundError as exc:
        missing_commit = getattr(exc, "commit", None)
        if missing_commit and is_commit_hash(missing_commit):
            rc.mark_missing(missing_commit, path)
            rc.write_ref(revision, missing_commit)
            resolved_put(key, missing_commit)
        raise
    except (
        RepositoryNotFoundError,
        GatedRepoError,
        RevisionNotFoundError,
        UnauthorizedError,
        OfflineModeIsEnabled,
    ):
        raise
    except (HubConnectionError, HfHubHTTPError, FileMetadataError) as exc:
        # hub unreachable or failing: the cached copy of this revision, if any, is still right
        if has_cached and cached_pointer is not None:
            why = f"the hub could not be reached or failed ({exc})"
            damaged = _damaged(repo_id, path, revision, cached_pointer, why)
            _usable(rc, cached_pointer, None, None, label=path, damaged=damaged)
            logger.warning(
                "could not reach %s (%s); using the cached %s@%s", endpoint, exc, repo_id, revision
            )
            return str(cached_pointer)
        raise _local_not_found(
            repo_id, path, revision, f"the hub could not be reached or failed ({exc})", exc
        ) from exc

    resolved_put(key, meta.commit)
    rc.write_ref(revision, meta.commit)
    if meta.size is None:
        return str(_ensure_unsized(rc, meta, path, req_headers or {}, proxies, endpoint, force_download))
    entry = TreeEntry(
        size=meta.size,
        blob_id=meta.etag,
        lfs_sha256=meta.etag if is_sha256(meta.etag) else None,
        xet_hash=meta.xet_hash,
    )
    return str(
        _ensure_file(
            rc,
            meta.commit,
            path,
            entry,
            url=_pinned(meta, head_url, endpoint, repo_id, repo_type, path),
            headers=req_headers or {},
            proxies=proxies,
            endpoint=endpoint,
            force_download=force_download,
        )
    )


def _ensure_unsized(
    rc: RepoCache,
    meta: FileMetadata,
    path: str,
    headers: dict[str, str],
    proxies: Any,
    endpoint: str,
    force: bool,
) -> Path:
    """Rare: the hub gave no size; download without a size check (the hash check still applies)."""
    pointer = rc.snapshot_path(meta.commit, path)
    if not force and _usable(rc, pointer, meta.etag, None, label=path, damaged=None):
        return pointer
    blob = rc.blob_path(meta.etag)
    rc.lock_path(meta.etag).parent.mkdir(parents=True, exist_ok=True)
    blob.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(rc.lock_path(meta.etag))):
        if force or not blob.exists():
            fetch_to(
                meta.location,
                dest=blob,
                incomplete=rc.incomplete_path(meta.etag),
                expected_size=None,
                etag=meta.etag,
                headers=headers,
                proxies=proxies,
                endpoint=endpoint,
                label=path,
            )
    return rc.link_snapshot(meta.commit, path, meta.etag)


hf_hub_download = hub_download


def _download_to_local_dir(
    repo_id: str,
    path: str,
    *,
    repo_type: str,
    revision: str,
    local_dir: Path,
    force_download: bool,
    proxies: Any,
    endpoint: str,
    offline: bool,
    why_offline: str,
    etag_timeout: float | None,
    headers: dict[str, str],
    known: tuple[str, TreeEntry] | None = None,
) -> str:
    """``local_dir`` mode: the file at its repo path, plus ``.cache/huggingface/download/<path>.metadata``."""
    file_path, _, lock_path = local_dir_paths(local_dir, path)
    meta = read_local_dir_metadata(local_dir, path)
    if not force_download and file_path.is_file():
        if offline:
            return str(file_path)
        if meta is not None and is_commit_hash(revision) and meta.commit == revision:
            return str(file_path)
        if known is not None and meta is not None and meta.etag == known[1].etag:
            return str(file_path)
    if offline:
        raise _local_not_found(repo_id, path, revision, why_offline)
    size: int | None  # the tree entry's size, or the HEAD's (None when the hub did not say)
    if known is not None:
        commit, entry = known
        etag, size, url = entry.etag, entry.size, _resolve_url(endpoint, repo_id, repo_type, commit, path)
    else:
        ctx = http.Context(
            repo_id=repo_id, repo_type=repo_type, revision=revision, filename=path, endpoint=endpoint
        )
        head_url = _resolve_url(endpoint, repo_id, repo_type, revision, path)
        try:
            remote = head_metadata(
                head_url,
                headers=headers,
                proxies=proxies,
                timeout=etag_timeout or constants.etag_timeout(),
                ctx=ctx,
                retry=force_download or not file_path.is_file(),
            )
        except (RemoteEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError, UnauthorizedError):
            raise
        except (HubConnectionError, HfHubHTTPError, FileMetadataError) as exc:
            if (
                file_path.is_file() and not force_download
            ):  # hub down: the file already there is the best answer
                logger.warning("could not reach %s (%s); using %s as it is", endpoint, exc, file_path)
                return str(file_path)
            raise _local_not_found(
                repo_id, path, revision, f"the hub could not be reached or failed ({exc})", exc
            ) from exc
        commit, etag, size = remote.commit, remote.etag, remote.size
        url = _pinned(remote, head_url, endpoint, repo_id, repo_type, path)
    if not force_download and file_path.is_file():
        if meta is not None and meta.etag == etag:
            write_local_dir_metadata(local_dir, path, commit, etag)
            return str(file_path)
        if meta is None and is_sha256(etag):
            from .cache_layout import sha256_file

            if sha256_file(file_path) == etag:
                write_local_dir_metadata(local_dir, path, commit, etag)
                return str(file_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(lock_path)):
        file_path.parent.mkdir(parents=True, exist_ok=True)
        incomplete = lock_path.with_name(lock_path.name[: -len(".lock")] + f".{etag}.incomplete")
        fetch_to(
            url,
            dest=file_path,
            incomplete=incomplete,
            expected_size=size,
            etag=etag,
            headers=headers,
            proxies=proxies,
            endpoint=endpoint,
            label=path,
        )
        write_local_dir_metadata(local_dir, path, commit, etag)
    return str(file_path)


def _fetch_tree(
    endpoint: str, repo_id: str, repo_type: str, commit: str, headers: dict[str, str], proxies: Any
) -> dict[str, TreeEntry]:
    url = f"{endpoint}/api/{constants.REPO_TYPES_API_PLURAL[repo_type]}/{repo_id}/tree/{commit}"
    ctx = http.Context(repo_id=repo_id, repo_type=repo_type, revision=commit, endpoint=endpoint)
    entries: dict[str, TreeEntry] = {}
    params = {"recursive": "true", "expand": "false"}
    for item in http.paginate(url, headers=headers, params=params, proxies=proxies, ctx=ctx):
        if item.get("type") != "file":
            continue
        lfs = item.get("lfs")
        xet_hash = item.get("xetHash")
        entries[item["path"]] = TreeEntry(
            size=int(item["size"]),
            blob_id=item["oid"],
            lfs_sha256=lfs["oid"] if lfs else None,
            lfs_size=int(lfs["size"]) if lfs else None,
            xet_hash=xet_hash if lfs and isinstance(xet_hash, str) and is_xet_hash(xet_hash) else None,
        )
    return entries


def snapshot_download(
    repo_id: str,
    *,
    repo_type: str | None = None,
    revision: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    local_dir: str | os.PathLike[str] | None = None,
    allow_patterns: str | Iterable[str] | None = None,
    ignore_patterns: str | Iterable[str] | None = None,
    force_download: bool = False,
    proxies: dict[str, str] | None = None,
    token: str | bool | None = None,
    local_files_only: bool = False,
    max_workers: int = 8,
    endpoint: str | None = None,
    etag_timeout: float | None = None,
    headers: dict[str, str] | None = None,
    library_name: str | None = None,
    library_version: str | None = None,
    user_agent: dict[str, str] | str | None = None,
    # Accepted so that code written for older huggingface_hub releases runs unchanged; both are no-ops here
    # (downloads always resume; local_dir always receives real files).
    resume_download: bool | None = None,
    local_dir_use_symlinks: bool | str | None = None,
) -> str:
    """Download the files of a repo at a revision (filtered by patterns); return the snapshot folder."""
    validate_repo_id(repo_id, allow_bare_name=True)
    repo_type = validate_repo_type(repo_type)
    revision = commit_of(revision, repo_id, repo_type)
    revision = validate_revision(revision if revision is not None else constants.DEFAULT_REVISION)
    endpoint = (endpoint or constants.endpoint()).rstrip("/")
    offline = local_files_only or constants.is_offline()
    rc = RepoCache(cache_dir, repo_id, repo_type)
    req_headers = None if offline else _headers(token, headers, library_name, library_version, user_agent)
    key = resolved_key(endpoint, repo_type, repo_id, revision, (req_headers or {}).get("authorization"))

    commit: str | None = None
    error: Exception | None = None
    if not offline:
        commit = revision if is_commit_hash(revision) else resolved_get(key)
        if commit is None:
            plural = constants.REPO_TYPES_API_PLURAL[repo_type]
            try:
                info = http.request(
                    "GET",
                    f"{endpoint}/api/{plural}/{repo_id}/revision/{http.quote_segment(revision)}",
                    headers=req_headers,
                    proxies=proxies,
                    ctx=http.Context(
                        repo_id=repo_id, repo_type=repo_type, revision=revision, endpoint=endpoint
                    ),
                ).json()
                commit = info.get("sha")
                if not commit:
                    raise FileMetadataError(
                        f"The hub's info for {repo_id!r}@{revision!r} has no commit 'sha'."
                    )
                safe_commit(commit)
            except (RepositoryNotFoundError, RevisionNotFoundError, UnauthorizedError):
                raise
            except (HubConnectionError, HfHubHTTPError, FileMetadataError) as exc:
                error = exc
    if commit is None:
        return _snapshot_from_cache(
            rc,
            repo_id,
            revision,
            local_dir,
            allow_patterns,
            ignore_patterns,
            "local_files_only=True"
            if local_files_only
            else "offline mode is on (HF_HUB_OFFLINE=1)"
            if offline
            else f"the hub failed ({error})",
            error,
        )
    resolved_put(key, commit)
    tree = rc.read_tree(commit) if not force_download else None
    if tree is None:
        tree = _fetch_tree(endpoint, repo_id, repo_type, commit, req_headers or {}, proxies)
        rc.write_tree(commit, tree)
    paths = filter_paths(sorted(tree), allow_patterns=allow_patterns, ignore_patterns=ignore_patterns)

    def one(path: str) -> None:
        entry = tree[path]
        if local_dir is not None:
            _download_to_local_dir(
                repo_id,
                path,
                repo_type=repo_type,
                revision=commit,
                local_dir=Path(local_dir),
                force_download=force_download,
                proxies=proxies,
                endpoint=endpoint,
                offline=False,
                why_offline="",
                etag_timeout=etag_timeout,
                headers=req_headers or {},
                known=(commit, entry),
            )
        else:
            _ensure_file(
                rc,
                commit,
                path,
                entry,
                url=_resolve_url(endpoint, repo_id, repo_type, commit, path),
                headers=req_headers or {},
                proxies=proxies,
                endpoint=endpoint,
                force_download=force_download,
            )

    map_in_threads(one, paths, max_workers)
    if local_dir is not None:
        return str(Path(local_dir).resolve())
    rc.write_ref(revision, commit)
    snapshot = rc.snapshot_dir(commit)
    snapshot.mkdir(parents=True, exist_ok=True)
    return str(snapshot)


def _snapshot_from_cache(
    rc: RepoCache,
    repo_id: str,
    revision: str,
    local_dir: Any,
    allow: Any,
    ignore: Any,
    why: str,
    cause: Exception | None,
) -> str:
    if local_dir is not None:
        if Path(local_dir).is_dir() and any(Path(local_dir).iterdir()):
            return str(Path(local_dir).resolve())
        raise _local_not_found(repo_id, "(snapshot)", revision, why, cause)
    commit = rc.read_ref(revision)
    if commit is None or not rc.snapshot_dir(commit).is_dir():
        raise _local_not_found(repo_id, "(snapshot)", revision, why, cause)
    snapshot = rc.snapshot_dir(commit)
    tree = rc.read_tree(commit)
    if tree is not None:
        wanted = filter_paths(sorted(tree), allow_patterns=allow, ignore_patterns=ignore)
        absent = [p for p in wanted if not _present(rc.snapshot_path(commit, p))]
        if absent:
            incomplete = _local_not_found(
                repo_id, ", ".join(absent[:5]) + (" ..." if len(absent) > 5 else ""), revision, why, cause
            )
            raise IncompleteSnapshotError(str(incomplete)) from cause
        files: dict[str, TreeEntry | None] = {p: tree[p] for p in wanted}
    else:
        names = sorted(
            p.relative_to(snapshot).as_posix() for p in snapshot.rglob("*") if p.is_symlink() or p.is_file()
        )
        files = dict.fromkeys(filter_paths(names, allow_patterns=allow, ignore_patterns=ignore))
    # nothing damaged is handed out: every file the caller will read is checked (cheaply: see check_cached)
    for path, entry in files.items():
        pointer = rc.snapshot_path(commit, path)
        etag, size = (entry.etag, entry.size) if entry is not None else (None, None)
        _usable(rc, pointer, etag, size, label=path, damaged=_damaged(repo_id, path, revision, pointer, why))
    return str(snapshot)


# --- upstream's smaller download helpers -------------------------------------------------------------------------
_CACHED_NO_EXIST: Any = object()  # try_to_load_from_cache: "the cache knows this file does not exist"


@dataclass(frozen=True)
class HfFileMetadata:
    """What the hub says about one file (``get_hf_file_metadata``): the commit it was read at, its ETag (the
    blob name: sha256 of an LFS file, git sha1 of a regular one), where to download it and its size."""

    commit_hash: str | None
    etag: str | None
    location: str
    size: int | None


def hf_hub_url(
    repo_id: str,
    filename: str,
    *,
    subfolder: str | None = None,
    repo_type: str | None = None,
    revision: str | None = None,
    endpoint: str | None = None,
) -> str:
    """The ``/resolve`` URL of a file: what ``hf_hub_download`` fetches (no request is made)."""
    validate_repo_id(repo_id, allow_bare_name=True)
    path = validate_path_in_repo(f"{subfolder.strip('/')}/{filename}" if subfolder else filename)
    revision = validate_revision(revision if revision is not None else constants.DEFAULT_REVISION)
    endpoint = (endpoint or constants.endpoint()).rstrip("/")
    return _resolve_url(endpoint, repo_id, validate_repo_type(repo_type), revision, path)


def get_hf_file_metadata(
    url: str,
    token: str | bool | None = None,
    proxies: dict[str, str] | None = None,
    timeout: float | None = None,
    library_name: str | None = None,
    library_version: str | None = None,
    user_agent: dict[str, str] | str | None = None,
    headers: dict[str, str] | None = None,
    endpoint: str | None = None,
) -> HfFileMetadata:
    """One ``HEAD`` of a ``/resolve`` URL (from ``hf_hub_url``): commit, ETag, download location and size."""
    if constants.is_offline():
        raise OfflineModeIsEnabled(
            f"Cannot read the metadata of {url}: offline mode is on (HF_HUB_OFFLINE=1)."
        )
    endpoint = (endpoint or constants.endpoint()).rstrip("/")
    meta = head_metadata(
        url,
        headers=_headers(token, headers, library_name, library_version, user_agent),
        proxies=proxies,
        timeout=timeout or constants.etag_timeout(),
        ctx=http.Context(endpoint=endpoint, filename=url.rsplit("/", 1)[-1]),
    )
    return HfFileMetadata(commit_hash=meta.commit, etag=meta.etag, location=meta.location, size=meta.size)


def try_to_load_from_cache(
    repo_id: str,
    filename: str,
    cache_dir: str | os.PathLike[str] | None = None,
    revision: str | None = None,
    repo_type: str | None = None,
) -> str | Any | None:
    """The cached path of a file, ``_CACHED_NO_EXIST`` if the cache knows it does not exist at that revision,
    None if the cache cannot tell. Never makes a request and never raises for a missing file; a damaged cached
    copy counts as not cached (``None``)."""
    validate_repo_id(repo_id, allow_bare_name=True)
    rc = RepoCache(cache_dir, repo_id, validate_repo_type(repo_type))
    revision = commit_of(revision, repo_id, rc.repo_type)
    commit = rc.read_ref(validate_revision(revision or constants.DEFAULT_REVISION))
    if commit is None or not rc.snapshot_dir(commit).is_dir():
        return None
    pointer = rc.snapshot_path(commit, validate_path_in_repo(filename))
    tree = rc.read_tree(commit)
    entry = tree.get(filename) if tree is not None else None
    if _present(pointer):
        intact = (
            rc.check_cached(pointer, entry.etag if entry else None, entry.size if entry else None) is None
        )
        return str(pointer) if intact else None
    if rc.is_known_missing(commit, filename) or (tree is not None and entry is None):
        return _CACHED_NO_EXIST
    return None
