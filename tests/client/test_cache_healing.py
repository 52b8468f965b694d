"""The self-healing cache behind hub_download and snapshot_download: a truncated, bit-flipped or deleted blob is
reported once and fetched again online, whether or not a tree listing is cached, and named offline."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from modelhub.client import CommitOperationAdd, HubApi, hub_download, revision_scope, snapshot_download
from modelhub.client.cache_layout import RepoCache
from modelhub.client.download import forget_resolved_revisions

from .._healing import DAMAGES, blob_of, check_heals

BIG = bytes(range(256)) * 4096  # 1 MiB, binary: an LFS file (blob named by its sha256)
SMALL = b'{"hidden": 4}'  # a regular file (blob named by its git sha1)


@pytest.fixture
def repo(hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    api = HubApi(token=hub.token)
    repo_id = hub.new_repo_id("heal")
    api.create_repo(repo_id)
    api.create_commit(
        repo_id,
        [CommitOperationAdd("weights.bin", BIG), CommitOperationAdd("config.json", SMALL)],
        commit_message="files",
    )
    forget_resolved_revisions()
    yield repo_id
    forget_resolved_revisions()


def _cache() -> Path:
    return Path(os.environ["HF_HUB_CACHE"])


@pytest.mark.parametrize("how", DAMAGES)
@pytest.mark.parametrize("filename", ["weights.bin", "config.json"])
@pytest.mark.parametrize("tree_cached", [False, True])
def test_hub_download_heals(repo, how, filename, tree_cached, caplog, monkeypatch):
    if tree_cached:
        snapshot_download(repo)  # writes trees/<commit>.json: the size is then known without a request

    def load() -> str:
        with revision_scope():  # like from_pretrained: the second file is read at the commit resolved first
            hub_download(repo, "config.json" if filename == "weights.bin" else "weights.bin")
            return hub_download(repo, filename)

    def check(path: str) -> None:
        assert Path(path).read_bytes() == (BIG if filename == "weights.bin" else SMALL)

    check(load())
    assert (RepoCache(None, repo).tree_path(_commit(repo)).is_file()) == tree_cached
    check_heals(load, check, repo, filename, how, caplog, monkeypatch)


@pytest.mark.parametrize(
    "how", ["truncate", "bitflip"]
)  # a deleted blob leaves the copy intact: nothing to heal
@pytest.mark.parametrize("filename", ["weights.bin", "config.json"])
def test_a_cache_without_symlinks_heals_too(repo, how, filename, caplog, monkeypatch):
    """Snapshot files are copies (HF_HUB_DISABLE_SYMLINKS, or a filesystem without symlinks) and no tree listing
    names their blobs: the damaged copy is still found out (by the marker of its inode), healed, named offline."""
    monkeypatch.setenv("HF_HUB_DISABLE_SYMLINKS", "1")

    def load() -> str:
        with revision_scope():
            hub_download(repo, "config.json" if filename == "weights.bin" else "weights.bin")
            return hub_download(repo, filename)

    def check(path: str) -> None:
        assert not Path(path).is_symlink()
        assert Path(path).read_bytes() == (BIG if filename == "weights.bin" else SMALL)

    check(load())
    assert not RepoCache(None, repo).tree_path(_commit(repo)).is_file()
    check_heals(load, check, repo, filename, how, caplog, monkeypatch)


@pytest.mark.parametrize("how", DAMAGES)
def test_snapshot_download_heals(repo, how, caplog, monkeypatch):
    def load() -> str:
        return snapshot_download(repo)

    def check(folder: str) -> None:
        assert (Path(folder) / "weights.bin").read_bytes() == BIG
        assert (Path(folder) / "config.json").read_bytes() == SMALL

    check(load())
    check_heals(load, check, repo, "weights.bin", how, caplog, monkeypatch)


def test_offline_snapshot_without_tree_checks_every_file(repo, monkeypatch):
    """A snapshot assembled by single-file downloads (no tree listing) is still checked file by file offline."""
    with revision_scope():
        hub_download(repo, "config.json")
        hub_download(repo, "weights.bin")
    os.truncate(blob_of(_cache(), repo, "weights.bin"), 10)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from modelhub.errors import CorruptedFileError

    with pytest.raises(CorruptedFileError, match="weights.bin.*does not match its sha256"):
        snapshot_download(repo)
    assert Path(snapshot_download(repo, allow_patterns="config.json"), "config.json").read_bytes() == SMALL


def test_a_blob_is_hashed_once_not_on_every_read(repo, monkeypatch):
    """The hot path: a blob we downloaded is not hashed again while its stat is unchanged."""
    import modelhub.client.cache_layout as layout

    hashed: list[Path] = []
    real = layout.content_matches
    monkeypatch.setattr(layout, "content_matches", lambda p, e: hashed.append(p) or real(p, e))
    path = hub_download(repo, "weights.bin")
    assert hashed == []  # verified while downloading: marked, not hashed again
    for _ in range(3):
        forget_resolved_revisions()
        assert hub_download(repo, "weights.bin") == path
    assert hashed == []
    # a blob put there by someone else (another client, an older modelhub) is hashed once, then trusted
    marker = RepoCache(None, repo).verified_path(blob_of(_cache(), repo, "weights.bin").name)
    marker.unlink()
    layout._VERIFIED_HERE.clear()  # as a new process would start
    for _ in range(2):
        forget_resolved_revisions()
        hub_download(repo, "weights.bin")
    assert len(hashed) == 1
    # rewritten with the same bytes and the same mtime: the ctime moved, so it is checked (and accepted) again
    blob = blob_of(_cache(), repo, "weights.bin")
    st = blob.stat()
    time.sleep(0.01)
    blob.write_bytes(BIG)
    os.utime(blob, ns=(st.st_atime_ns, st.st_mtime_ns))
    forget_resolved_revisions()
    assert Path(hub_download(repo, "weights.bin")).read_bytes() == BIG
    assert len(hashed) == 2


def _commit(repo_id: str) -> str:
    return RepoCache(None, repo_id).read_ref("main") or ""
