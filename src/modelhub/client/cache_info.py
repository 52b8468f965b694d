"""``scan_cache_dir``: the cache as upstream's ``HFCacheInfo`` (repos -> revisions -> files), with
``delete_revisions`` planning what to remove and ``DeleteCacheStrategy.execute`` removing it.

Only ``cache_layout`` knows the layout; this module walks what it names (snapshot symlinks into ``blobs/``).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import CacheNotFound, CorruptedCacheException
from .cache_layout import VERIFIED_DIR, parse_repo_folder, resolve_cache_dir


@dataclass(frozen=True)
class CachedFileInfo:
    file_name: str
    file_path: Path  # the snapshot entry
    blob_path: Path  # the blob it resolves to
    size_on_disk: int
    blob_last_accessed: float
    blob_last_modified: float


@dataclass(frozen=True)
class CachedRevisionInfo:
    commit_hash: str
    snapshot_path: Path
    size_on_disk: int
    files: frozenset[CachedFileInfo]
    refs: frozenset[str]
    last_modified: float

    @property
    def nb_files(self) -> int:
        return len(self.files)


@dataclass(frozen=True)
class CachedRepoInfo:
    repo_id: str
    repo_type: str
    repo_path: Path
    size_on_disk: int
    nb_files: int
    revisions: frozenset[CachedRevisionInfo]
    last_accessed: float
    last_modified: float

    @property
    def refs(self) -> dict[str, CachedRevisionInfo]:
        return {ref: rev for rev in self.revisions for ref in rev.refs}


@dataclass(frozen=True)
class DeleteCacheStrategy:
    """What ``HFCacheInfo.delete_revisions`` would remove; nothing is removed until ``execute()``."""

    expected_freed_size: int
    blobs: frozenset[Path]
    refs: frozenset[Path]
    repos: frozenset[Path]
    snapshots: frozenset[Path]

    def execute(self) -> None:
        for repo in self.repos:
            shutil.rmtree(repo, ignore_errors=True)
        for path in self.snapshots:
            shutil.rmtree(path, ignore_errors=True)
        for path in self.refs | self.blobs:
            path.unlink(missing_ok=True)
        for blob in self.blobs:
            (blob.parent.parent / VERIFIED_DIR / blob.name).unlink(missing_ok=True)


@dataclass(frozen=True)
class HFCacheInfo:
    size_on_disk: int
    repos: frozenset[CachedRepoInfo]
    warnings: list[CorruptedCacheException]

    def delete_revisions(self, *revisions: str) -> DeleteCacheStrategy:
        """Plan the removal of these commits' snapshots, their refs, and the blobs no kept revision uses
        (a repo left with no revision goes whole)."""
        wanted = set(revisions)
        blobs: set[Path] = set()
        refs: set[Path] = set()
        repos: set[Path] = set()
        snapshots: set[Path] = set()
        freed = 0
        for repo in self.repos:
            doomed = {rev for rev in repo.revisions if rev.commit_hash in wanted}
            if not doomed:
                continue
            wanted -= {rev.commit_hash for rev in doomed}
            if doomed == set(repo.revisions):
                repos.add(repo.repo_path)
                freed += repo.size_on_disk
                continue
            kept = {f.blob_path for rev in repo.revisions - doomed for f in rev.files}
            for rev in doomed:
                snapshots.add(rev.snapshot_path)
                refs.update(repo.repo_path / "refs" / ref for ref in rev.refs)
                for file in rev.files:
                    if file.blob_path not in kept and file.blob_path not in blobs:
                        blobs.add(file.blob_path)
                        freed += file.size_on_disk
        return DeleteCacheStrategy(
            freed, frozenset(blobs), frozenset(refs), frozenset(repos), frozenset(snapshots)
        )


def _scan_repo(folder: Path, repo_type: str, repo_id: str) -> CachedRepoInfo:
    snapshots_dir = folder / "snapshots"
    if not snapshots_dir.is_dir():
        raise CorruptedCacheException(f"{folder} has no snapshots/ folder: not a cached repo (remove it).")
    refs_by_commit: dict[str, set[str]] = {}
    refs_dir = folder / "refs"
    if refs_dir.is_dir():
        for ref in refs_dir.rglob("*"):
            if ref.is_file():
                name = ref.relative_to(refs_dir).as_posix()
                refs_by_commit.setdefault(ref.read_text().strip(), set()).add(name)
    revisions = []
    blob_stats: dict[Path, os.stat_result] = {}
    for snapshot in sorted(snapshots_dir.iterdir()):
        files = []
        for entry in snapshot.rglob("*"):
            if entry.is_dir():
                continue
            blob = Path(os.path.realpath(entry))
            if not blob.exists():
                continue  # a dangling link (its blob was deleted): the next download repairs it
            st = blob_stats.setdefault(blob, blob.stat())
            files.append(
                CachedFileInfo(
                    file_name=entry.name,
                    file_path=entry,
                    blob_path=blob,
                    size_on_disk=st.st_size,
                    blob_last_accessed=st.st_atime,
                    blob_last_modified=st.st_mtime,
                )
            )
        revisions.append(
            CachedRevisionInfo(
                commit_hash=snapshot.name,
                snapshot_path=snapshot,
                size_on_disk=sum(
                    blob_stats[f.blob_path].st_size for f in {f.blob_path: f for f in files}.values()
                ),
                files=frozenset(files),
                refs=frozenset(refs_by_commit.get(snapshot.name, ())),
                last_modified=max((f.blob_last_modified for f in files), default=snapshot.stat().st_mtime),
            )
        )
    stats = list(blob_stats.values())
    return CachedRepoInfo(
        repo_id=repo_id,
        repo_type=repo_type,
        repo_path=folder,
        size_on_disk=sum(s.st_size for s in stats),
        nb_files=len(blob_stats),
        revisions=frozenset(revisions),
        last_accessed=max((s.st_atime for s in stats), default=folder.stat().st_atime),
        last_modified=max((s.st_mtime for s in stats), default=folder.stat().st_mtime),
    )


def scan_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> HFCacheInfo:
    """The repos, revisions and files of a cache (``HF_HUB_CACHE`` by default). Folders that are not cached
    repos are reported in ``warnings``; a missing cache raises ``CacheNotFound``."""
    root = resolve_cache_dir(cache_dir)
    if not root.is_dir():
        raise CacheNotFound(f"No cache at {root}: nothing has been downloaded there yet.", cache_dir=root)
    repos: set[CachedRepoInfo] = set()
    warnings: list[CorruptedCacheException] = []
    for folder in sorted(root.iterdir()):
        if folder.name.startswith(".") or folder.name == "CACHEDIR.TAG":
            continue
        parsed = parse_repo_folder(folder.name)
        try:
            if parsed is None or not folder.is_dir():
                raise CorruptedCacheException(
                    f"{folder} is not a cached repo folder (models--<namespace>--<name>)."
                )
            repos.add(_scan_repo(folder, *parsed))
        except CorruptedCacheException as exc:
            warnings.append(exc)
    return HFCacheInfo(
        size_on_disk=sum(r.size_on_disk for r in repos), repos=frozenset(repos), warnings=warnings
    )
