"""The Hugging Face cache layout: the only module that knows where files live under ``$HF_HUB_CACHE``.

Layout (shared with the official client, so either one reads what the other downloaded)::

    CACHEDIR.TAG
    .locks/models--alice--m1/<etag>.lock
    models--alice--m1/
        refs/<revision>                      commit hash, 40 hex, no newline (``refs/refs/pr/1`` for PRs)
        blobs/<etag>                         content, named by the normalised ETag (git sha1 or sha256)
        blobs/<etag>.incomplete              partial download, resumed with ``Range`` by the next attempt
        snapshots/<commit>/<path>            relative symlink to ../../blobs/<etag> (a copy without symlinks)
        .no_exist/<commit>/<path>            empty file: "this path does not exist at this commit"
        trees/<commit>.json                  the file listing of a commit (immutable, never invalidated)
        .verified/<etag>                     stat signatures of the blob (or snapshot copy) when its content
                                             last matched its hash: a cached file is hashed once, not per read

``local_dir`` downloads keep ``<local_dir>/.cache/huggingface/download/<path>.metadata`` (commit, etag, time).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import constants
from .._common.validation import is_commit_hash, validate_path_in_repo
from ..errors import FileMetadataError, HFValidationError
from ._files import atomic_copy, atomic_write_text

logger = logging.getLogger(__name__)

CACHEDIR_TAG_CONTENT = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by modelhub (Hugging Face hub cache layout).\n"
    "# For information about cache directory tags, see:\n"
    "#\thttps://bford.info/cachedir/\n"
)
TREE_FORMAT_VERSION = 1
INCOMPLETE_SUFFIX = ".incomplete"
VERIFIED_DIR = ".verified"
MAX_SIGNATURES = 4


def resolve_cache_dir(cache_dir: str | os.PathLike[str] | None) -> Path:
    """``cache_dir`` if given, else ``HF_HUB_CACHE`` / ``$HF_HOME/hub`` (read now, not at import)."""
    return Path(cache_dir).expanduser() if cache_dir is not None else constants.hub_cache_dir()


def repo_folder_name(repo_id: str, repo_type: str = "model") -> str:
    """``models--alice--m1``: the type in the plural, then the repo id with ``/`` replaced by ``--``."""
    return "--".join([f"{repo_type}s", *repo_id.split("/")])


def normalize_etag(etag: str | None) -> str | None:
    """Strip a weak ``W/`` prefix and surrounding quotes: the result names the blob."""
    if etag is None:
        return None
    etag = etag.strip()
    if etag.startswith("W/"):
        etag = etag[2:]
    return etag.strip('"')


_SHA256 = re.compile(r"[0-9a-f]{64}")
_SHA1 = re.compile(r"[0-9a-f]{40}")


def is_sha256(value: str | None) -> bool:
    return value is not None and _SHA256.fullmatch(value) is not None


def is_git_sha1(value: str | None) -> bool:
    return value is not None and _SHA1.fullmatch(value) is not None


def is_content_hash(etag: str) -> bool:
    """Whether a blob name is its content hash (sha256 for LFS files, git blob sha1 for the others)."""
    return is_sha256(etag) or is_git_sha1(etag)


_VERIFIED_HERE: set[str] = set()  # signatures this process hashed (bounded by the files it read)


def _stat_signature(st: os.stat_result) -> str:
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def _read_signatures(marker: Path) -> list[str]:
    try:
        return marker.read_text().split()
    except OSError:
        return []


# Names below come from the hub (ETags, X-Repo-Commit, tree listings): a hub must not be able to make the client
# write outside the cache or a local_dir, so every one is checked where it becomes a path.
def safe_blob_name(etag: str) -> str:
    if not etag or etag in (".", "..") or any(c in etag for c in "/\\\0"):
        raise FileMetadataError(
            f"The hub gave an unusable ETag {etag!r}: it cannot name a file in the cache."
        )
    return etag


def safe_commit(commit: str) -> str:
    if not is_commit_hash(commit):
        raise FileMetadataError(
            f"The hub gave {commit!r} as a commit id; expected 40 lowercase hex characters."
        )
    return commit


def safe_repo_path(path_in_repo: str) -> str:
    try:
        ok = validate_path_in_repo(path_in_repo) == path_in_repo
    except HFValidationError:
        ok = False
    if not ok:
        raise FileMetadataError(
            f"Refusing the path {path_in_repo!r} from the hub: it is not a plain relative path inside the repo."
        )
    return path_in_repo


def is_xet_hash(value: str) -> bool:
    """64 lowercase hex characters (a Xet hash string)."""
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)


@dataclass(frozen=True)
class TreeEntry:
    """One file of a commit, as the tree listing gives it (and as ``trees/<commit>.json`` stores it)."""

    size: int
    blob_id: str
    lfs_sha256: str | None = None
    lfs_size: int | None = None
    xet_hash: str | None = None  # the file's Xet hash when the hub stores it through Xet

    @property
    def etag(self) -> str:
        """The name its blob gets in the cache: the sha256 for LFS files, else the git blob id."""
        return self.lfs_sha256 or self.blob_id

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"size": self.size, "blob_id": self.blob_id}
        if self.lfs_sha256 is not None:
            data["lfs_sha256"] = self.lfs_sha256
            data["lfs_size"] = self.lfs_size
        if self.xet_hash is not None:
            data["xet_hash"] = self.xet_hash
        return data


class RepoCache:
    """Paths of one repo inside one cache directory. Creating the object touches nothing on disk."""

    def __init__(
        self, cache_dir: str | os.PathLike[str] | None, repo_id: str, repo_type: str = "model"
    ) -> None:
        self.cache_dir = resolve_cache_dir(cache_dir)
        self.repo_id = repo_id
        self.repo_type = repo_type
        self.folder = self.cache_dir / repo_folder_name(repo_id, repo_type)

    # --- paths ------------------------------------------------------------------------------------------------
    def blob_path(self, etag: str) -> Path:
        return self.folder / "blobs" / safe_blob_name(etag)

    def incomplete_path(self, etag: str) -> Path:
        return self.folder / "blobs" / f"{safe_blob_name(etag)}{INCOMPLETE_SUFFIX}"

    def snapshot_dir(self, commit: str) -> Path:
        return self.folder / "snapshots" / safe_commit(commit)

    def snapshot_path(self, commit: str, path_in_repo: str) -> Path:
        return self.snapshot_dir(commit).joinpath(*safe_repo_path(path_in_repo).split("/"))

    def ref_path(self, revision: str) -> Path:
        return self.folder.joinpath("refs", *revision.split("/"))

    def no_exist_path(self, commit: str, path_in_repo: str) -> Path:
        return self.folder.joinpath(
            ".no_exist", safe_commit(commit), *safe_repo_path(path_in_repo).split("/")
        )

    def tree_path(self, commit: str) -> Path:
        return self.folder / "trees" / f"{safe_commit(commit)}.json"

    def lock_path(self, etag: str) -> Path:
        return self.cache_dir / ".locks" / self.folder.name / f"{safe_blob_name(etag)}.lock"

    def verified_path(self, etag: str) -> Path:
        return self.folder / VERIFIED_DIR / safe_blob_name(etag)

    # --- integrity of cached files ----------------------------------------------------------------------------------
    def check_cached(self, pointer: Path, etag: str | None, expected_size: int | None) -> str | None:
        """Why the cached file behind ``pointer`` cannot be served (``None``: it is intact); FileNotFoundError
        when nothing is cached there at all.

        ``etag`` is the blob's name when known (a tree entry, the HEAD); otherwise the symlink target names it,
        or for a copy (a cache without symlinks) the ``.verified`` marker that lists the copy's inode.
        The size is checked on every call. The content hash (sha256 for LFS files, git sha1 for the others) is
        checked only when the file's stat signature (inode, size, mtime, ctime) is not one recorded in
        ``.verified/<etag>`` -- that is, once after it was written and again whenever it changes (a truncation, an
        in-place write, even one that restores the mtime, changes the ctime). ``MODELHUB_VERIFY_CACHE=1``
        hashes on every call.
        """
        try:
            target = os.readlink(pointer)  # one syscall tells a link (and its blob's name) from a copy
        except (FileNotFoundError, NotADirectoryError):
            raise FileNotFoundError(f"nothing cached at {pointer}") from None
        except OSError:  # not a symlink: a copy (no symlinks in this cache)
            target = None
        etag = etag or (os.path.basename(target) if target is not None else None)
        try:
            st = pointer.stat()
        except OSError:
            return "its blob is missing (deleted from blobs/)"
        if expected_size is not None and st.st_size != expected_size:
            return f"it has {st.st_size} bytes, {expected_size} expected (truncated or overwritten)"
        signature = _stat_signature(st)
        recheck = constants.env_flag("MODELHUB_VERIFY_CACHE")
        if etag is None and (recheck or signature not in _VERIFIED_HERE):
            etag = self._etag_of_copy(st)  # a copy (no symlinks) nothing names: the marker of its inode does
        if etag is None or not is_content_hash(etag):
            return None  # nothing to hash against: the size is all there is to check
        if signature in _VERIFIED_HERE and not recheck:
            return None
        marker = self.verified_path(etag)
        if signature in _read_signatures(marker) and not recheck:
            _VERIFIED_HERE.add(signature)
            return None
        if not content_matches(pointer, etag):
            return f"its content does not match its {'sha256' if is_sha256(etag) else 'git sha1'} {etag}"
        _VERIFIED_HERE.add(signature)  # a read-only cache cannot keep the marker: hash once per process then
        self._record_verified(marker, signature)
        return None

    def _etag_of_copy(self, st: os.stat_result) -> str | None:
        """The blob a snapshot copy was verified as, found by its file (device and inode: an in-place truncation
        or write keeps them) among the ``.verified`` markers; None for a copy no modelhub client verified."""
        inode = f"{st.st_dev}:{st.st_ino}:"
        try:
            markers = list(os.scandir(self.folder / VERIFIED_DIR))
        except OSError:
            return None
        for marker in markers:
            if any(sig.startswith(inode) for sig in _read_signatures(Path(marker.path))):
                return marker.name
        return None

    def mark_verified(self, pointer: Path, etag: str) -> None:
        """Record that the file behind ``pointer`` matched ``etag`` (called right after a verified download)."""
        try:
            self._record_verified(self.verified_path(etag), _stat_signature(pointer.stat()))
        except OSError as exc:
            logger.debug("could not record %s as verified: %s", pointer, exc)

    def _record_verified(self, marker: Path, signature: str) -> None:
        known = _read_signatures(marker)
        if signature in known:
            return
        # a blob and its snapshot copies (no symlinks) each have a signature; keep the last few
        lines = [*known[-(MAX_SIGNATURES - 1) :], signature]
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(marker, "\n".join(lines) + "\n")
        except OSError as exc:  # a read-only cache: the file is hashed again next time, nothing worse
            logger.debug("could not write %s: %s", marker, exc)

    def discard(self, pointer: Path, etag: str | None) -> None:
        """Remove a damaged cached file: the snapshot entry, the blob it points to, and its verified marker."""
        target = pointer.parent / os.readlink(pointer) if pointer.is_symlink() else None
        for path in (pointer, target, self.verified_path(etag) if etag else None):
            if path is not None:
                with contextlib.suppress(OSError):
                    path.unlink()

    # --- refs ---------------------------------------------------------------------------------------------------
    def read_ref(self, revision: str) -> str | None:
        """The commit a revision pointed to at the last download; a 40-hex revision is its own commit."""
        if is_commit_hash(revision):
            return revision
        try:
            value = self.ref_path(revision).read_text().strip()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        return value if is_commit_hash(value) else None

    def write_ref(self, revision: str, commit: str) -> None:
        """Record ``revision -> commit`` (skipped for a commit revision, like upstream)."""
        if revision == commit or is_commit_hash(revision):
            return
        path = self.ref_path(revision)
        try:
            if path.is_file() and path.read_text() == commit:
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, commit)
        except OSError as exc:  # a read-only cache still serves files
            logger.debug("could not write ref %s: %s", path, exc)

    # --- .no_exist ----------------------------------------------------------------------------------------------
    def is_known_missing(self, commit: str, path_in_repo: str) -> bool:
        return self.no_exist_path(commit, path_in_repo).is_file()

    def mark_missing(self, commit: str, path_in_repo: str) -> None:
        path = self.no_exist_path(commit, path_in_repo)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        except OSError as exc:
            logger.debug("could not write %s: %s", path, exc)

    # --- trees/<commit>.json --------------------------------------------------------------------------------------
    def read_tree(self, commit: str) -> dict[str, TreeEntry] | None:
        return read_tree_file(self.tree_path(commit))

    def write_tree(self, commit: str, entries: dict[str, TreeEntry]) -> None:
        write_tree_file(self.tree_path(commit), entries)

    # --- snapshots ------------------------------------------------------------------------------------------------
    def cached_file(self, commit: str, path_in_repo: str) -> Path | None:
        path = self.snapshot_path(commit, path_in_repo)
        return path if path.exists() else None

    def link_snapshot(self, commit: str, path_in_repo: str, etag: str) -> Path:
        """Point ``snapshots/<commit>/<path>`` at ``blobs/<etag>`` with a relative symlink (a copy if impossible)."""
        blob = self.blob_path(etag)
        pointer = self.snapshot_path(commit, path_in_repo)
        pointer.parent.mkdir(parents=True, exist_ok=True)
        if pointer.is_symlink() or pointer.exists():
            if pointer.is_symlink() and pointer.resolve() == blob.resolve():
                return pointer
            pointer.unlink()
        if constants.env_flag("HF_HUB_DISABLE_SYMLINKS"):
            atomic_copy(blob, pointer)
            return pointer
        target = os.path.relpath(blob, pointer.parent)
        try:
            os.symlink(target, pointer)
        except FileExistsError:  # another process linked it meanwhile
            pass
        except OSError:  # filesystem without symlinks: a real copy, like upstream on Windows without dev mode
            atomic_copy(blob, pointer)
        return pointer

    def ensure_cachedir_tag(self) -> None:
        tag = self.cache_dir / "CACHEDIR.TAG"
        if tag.exists():
            return
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(tag, CACHEDIR_TAG_CONTENT)
        except OSError as exc:
            logger.debug("could not write %s: %s", tag, exc)


# --- tree files ------------------------------------------------------------------------------------------------
def read_tree_file(path: Path) -> dict[str, TreeEntry] | None:
    """Parse a ``trees/<commit>.json``; None if absent, of another format version, or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format_version") != TREE_FORMAT_VERSION:
            return None
        entries = {}
        for name, info in data["files"].items():
            xet_hash = info.get("xet_hash")
            entries[name] = TreeEntry(
                size=int(info["size"]),
                blob_id=str(info["blob_id"]),
                lfs_sha256=info.get("lfs_sha256"),
                lfs_size=info.get("lfs_size"),
                xet_hash=xet_hash if isinstance(xet_hash, str) and is_xet_hash(xet_hash) else None,
            )
        return entries
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        logger.warning("ignoring unreadable tree cache %s: %s", path, exc)
        return None


def write_tree_file(path: Path, entries: dict[str, TreeEntry]) -> None:
    data = {
        "format_version": TREE_FORMAT_VERSION,
        "files": {k: entries[k].to_json() for k in sorted(entries)},
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(data, indent=1))
    except OSError as exc:
        logger.debug("could not write tree cache %s: %s", path, exc)


# --- local_dir metadata -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LocalDirMetadata:
    commit: str
    etag: str
    timestamp: float


def local_dir_paths(local_dir: str | os.PathLike[str], path_in_repo: str) -> tuple[Path, Path, Path]:
    """(file, metadata, lock) for ``path_in_repo`` downloaded into ``local_dir``."""
    root = Path(local_dir)
    file_path = root.joinpath(*safe_repo_path(path_in_repo).split("/"))
    meta = root.joinpath(".cache", "huggingface", "download", *path_in_repo.split("/"))
    metadata_path = meta.with_name(meta.name + ".metadata")
    lock_path = meta.with_name(meta.name + ".lock")
    return file_path, metadata_path, lock_path


def local_dir_tree_folder(local_dir: str | os.PathLike[str]) -> Path:
    return Path(local_dir) / ".cache" / "huggingface"


def read_local_dir_metadata(local_dir: str | os.PathLike[str], path_in_repo: str) -> LocalDirMetadata | None:
    """The metadata of a ``local_dir`` file, None if missing, malformed, or the file changed since."""
    file_path, metadata_path, _ = local_dir_paths(local_dir, path_in_repo)
    try:
        lines = metadata_path.read_text().splitlines()
        meta = LocalDirMetadata(commit=lines[0].strip(), etag=lines[1].strip(), timestamp=float(lines[2]))
    except (FileNotFoundError, IndexError, ValueError):
        return None
    try:
        if file_path.stat().st_mtime - 1 <= meta.timestamp:
            return meta
    except FileNotFoundError:
        pass
    return None


def write_local_dir_metadata(
    local_dir: str | os.PathLike[str], path_in_repo: str, commit: str, etag: str
) -> None:
    _, metadata_path, _ = local_dir_paths(local_dir, path_in_repo)
    metadata_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(metadata_path, f"{commit}\n{etag}\n{time.time()}\n")


# --- inspecting, verifying and pruning a cache ---------------------------------------------------------------------
def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while data := fh.read(8 * 1024 * 1024):
            h.update(data)
    return h.hexdigest()


def content_matches(path: Path, etag: str) -> bool:
    """Hash the file and compare with ``etag`` (sha256 for LFS files, git blob sha1 for the others).

    An ETag that is not a content hash cannot be checked: only readability is.
    """
    if is_sha256(etag):
        return sha256_file(path) == etag
    if is_git_sha1(etag):
        h = hashlib.sha1()
        h.update(f"blob {path.stat().st_size}\0".encode())
        with open(path, "rb") as fh:
            while data := fh.read(8 * 1024 * 1024):
                h.update(data)
        return h.hexdigest() == etag
    return path.is_file()


def verify_blob(blob: Path) -> bool:
    """Re-hash a blob and compare with its name (sha256 for LFS files, git sha1 for the others)."""
    return content_matches(blob, blob.name)


@dataclass
class CachedRepo:
    repo_id: str
    repo_type: str
    path: Path
    size_on_disk: int
    nb_files: int
    refs: dict[str, str]
    snapshots: list[str]
    last_modified: float


def parse_repo_folder(name: str) -> tuple[str, str] | None:
    """``models--alice--m1`` -> ("model", "alice/m1"); None for anything else."""
    type_part, sep, rest = name.partition("--")
    if not sep or not type_part.endswith("s") or type_part[:-1] not in constants.REPO_TYPES or not rest:
        return None
    return type_part[:-1], rest.replace("--", "/")


def scan_cache(cache_dir: str | os.PathLike[str] | None = None) -> list[CachedRepo]:
    """The repos in a cache with their size, refs and snapshots (sorted by repo id)."""
    root = resolve_cache_dir(cache_dir)
    result: list[CachedRepo] = []
    if not root.is_dir():
        return result
    for folder in sorted(root.iterdir()):
        parsed = parse_repo_folder(folder.name)
        if parsed is None or not folder.is_dir():
            continue
        repo_type, repo_id = parsed
        blobs = [p for p in (folder / "blobs").glob("*") if p.is_file()]
        refs = {}
        refs_dir = folder / "refs"
        if refs_dir.is_dir():
            for ref in refs_dir.rglob("*"):
                if ref.is_file():
                    refs[ref.relative_to(refs_dir).as_posix()] = ref.read_text().strip()
        snaps_dir = folder / "snapshots"
        snapshots = sorted(p.name for p in snaps_dir.iterdir()) if snaps_dir.is_dir() else []
        stats = [p.stat() for p in blobs]
        result.append(
            CachedRepo(
                repo_id=repo_id,
                repo_type=repo_type,
                path=folder,
                size_on_disk=sum(s.st_size for s in stats),
                nb_files=sum(1 for p in blobs if not p.name.endswith(INCOMPLETE_SUFFIX)),
                refs=refs,
                snapshots=snapshots,
                last_modified=max((s.st_mtime for s in stats), default=folder.stat().st_mtime),
            )
        )
    return result


def verify_cache(cache_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Re-hash every complete blob; return the corrupted ones (their names no longer match their content)."""
    bad = []
    for repo in scan_cache(cache_dir):
        for blob in sorted((repo.path / "blobs").glob("*")):
            if blob.is_file() and not blob.name.endswith(INCOMPLETE_SUFFIX) and not verify_blob(blob):
                bad.append(blob)
    return bad


@dataclass
class PrunePlan:
    incomplete: list[Path]
    unreferenced_snapshots: list[Path]
    orphan_blobs: list[Path]
    corrupted_blobs: list[Path]

    @property
    def paths(self) -> list[Path]:
        return self.incomplete + self.unreferenced_snapshots + self.orphan_blobs + self.corrupted_blobs

    def freed_bytes(self) -> int:
        total = 0
        for p in self.incomplete + self.orphan_blobs + self.corrupted_blobs:
            with contextlib.suppress(OSError):
                total += p.stat().st_size
        return total


def plan_prune(
    cache_dir: str | os.PathLike[str] | None = None, *, keep_unreferenced: bool = False, verify: bool = False
) -> PrunePlan:
    """What ``cache prune`` removes: partial downloads, snapshots no ref points to (unless
    ``keep_unreferenced``), blobs no remaining snapshot links to, and (with ``verify``) corrupted blobs."""
    plan = PrunePlan([], [], [], [])
    for repo in scan_cache(cache_dir):
        blobs_dir = repo.path / "blobs"
        plan.incomplete += sorted(blobs_dir.glob(f"*{INCOMPLETE_SUFFIX}"))
        referenced_commits = set(repo.refs.values())
        kept_snapshots = []
        for snap in repo.snapshots:
            if keep_unreferenced or snap in referenced_commits:
                kept_snapshots.append(snap)
            else:
                plan.unreferenced_snapshots.append(repo.path / "snapshots" / snap)
        used = set()
        for snap in kept_snapshots:
            for link in (repo.path / "snapshots" / snap).rglob("*"):
                if link.is_symlink():
                    used.add(Path(os.path.realpath(link)).name)
        for blob in sorted(blobs_dir.glob("*")):
            if blob.name.endswith(INCOMPLETE_SUFFIX) or not blob.is_file():
                continue
            if blob.name not in used:
                plan.orphan_blobs.append(blob)
            elif verify and not verify_blob(blob):
                plan.corrupted_blobs.append(blob)
    return plan


def apply_prune(plan: PrunePlan) -> None:
    for path in plan.incomplete + plan.orphan_blobs + plan.corrupted_blobs:
        path.unlink(missing_ok=True)
    for blob in plan.orphan_blobs + plan.corrupted_blobs:
        (blob.parent.parent / VERIFIED_DIR / blob.name).unlink(missing_ok=True)
    for snap in plan.unreferenced_snapshots:
        shutil.rmtree(snap, ignore_errors=True)
    # snapshots linking to a removed corrupted blob are now dangling: drop those links so the next download
    # fetches the file again instead of failing on a broken symlink
    for blob in plan.corrupted_blobs:
        snaps = blob.parent.parent / "snapshots"
        for link in snaps.rglob("*") if snaps.is_dir() else []:
            if link.is_symlink() and not link.exists():
                link.unlink()
