"""The cache layout module: names and paths must be exactly the Hugging Face ones."""

import hashlib
import os

from modelhub.client import cache_layout as cl

COMMIT = "a" * 40


def test_repo_folder_names():
    assert cl.repo_folder_name("alice/m1") == "models--alice--m1"
    assert cl.repo_folder_name("alice/d", "dataset") == "datasets--alice--d"
    assert cl.repo_folder_name("bare", "space") == "spaces--bare"
    assert cl.parse_repo_folder("models--alice--m1") == ("model", "alice/m1")
    assert cl.parse_repo_folder("CACHEDIR.TAG") is None
    assert cl.parse_repo_folder("widgets--a--b") is None


def test_normalize_etag():
    assert cl.normalize_etag('W/"abc"') == "abc"
    assert cl.normalize_etag('"abc"') == "abc"
    assert cl.normalize_etag(None) is None


def test_paths(tmp_path):
    rc = cl.RepoCache(tmp_path, "alice/m1")
    assert rc.blob_path("e1") == tmp_path / "models--alice--m1" / "blobs" / "e1"
    assert (
        rc.snapshot_path(COMMIT, "sub/w.bin")
        == tmp_path / "models--alice--m1" / "snapshots" / COMMIT / "sub" / "w.bin"
    )
    assert rc.ref_path("refs/pr/1") == tmp_path / "models--alice--m1" / "refs" / "refs" / "pr" / "1"
    assert rc.lock_path("e1") == tmp_path / ".locks" / "models--alice--m1" / "e1.lock"
    assert rc.tree_path(COMMIT) == tmp_path / "models--alice--m1" / "trees" / f"{COMMIT}.json"
    assert (
        rc.no_exist_path(COMMIT, "x/y.txt")
        == tmp_path / "models--alice--m1" / ".no_exist" / COMMIT / "x" / "y.txt"
    )


def test_cache_dir_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "c"))
    assert cl.RepoCache(None, "a/b").folder == tmp_path / "c" / "models--a--b"
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    assert cl.RepoCache(None, "a/b").folder == tmp_path / "home" / "hub" / "models--a--b"


def test_refs_roundtrip_no_newline(tmp_path):
    rc = cl.RepoCache(tmp_path, "alice/m1")
    assert rc.read_ref("main") is None
    rc.write_ref("main", COMMIT)
    rc.write_ref("refs/pr/2", "b" * 40)
    assert rc.ref_path("main").read_bytes() == COMMIT.encode()
    assert rc.read_ref("main") == COMMIT
    assert rc.read_ref("refs/pr/2") == "b" * 40
    assert rc.read_ref("c" * 40) == "c" * 40  # a commit is its own resolution
    rc.write_ref("c" * 40, "c" * 40)
    assert not rc.ref_path("c" * 40).exists()


def test_metadata_files_follow_the_umask_for_shared_caches(tmp_path, monkeypatch):
    """refs, trees and copies are readable by others as the umask allows (mkstemp's 0600 would lock them out)."""
    old = os.umask(0o022)
    try:
        rc = cl.RepoCache(tmp_path, "alice/m1")
        rc.write_ref("main", COMMIT)
        rc.write_tree(COMMIT, {"a.txt": cl.TreeEntry(size=1, blob_id="b" * 40)})
        blob = rc.blob_path("b" * 40)
        blob.parent.mkdir(parents=True)
        blob.write_bytes(b"x")
        monkeypatch.setenv("HF_HUB_DISABLE_SYMLINKS", "1")
        copy = rc.link_snapshot(COMMIT, "a.txt", "b" * 40)
    finally:
        os.umask(old)
    for path in (rc.ref_path("main"), rc.tree_path(COMMIT), copy):
        assert path.stat().st_mode & 0o777 == 0o644, path
    assert not [p for p in rc.folder.rglob("*.tmp")]


def test_relative_symlink_and_no_exist(tmp_path):
    rc = cl.RepoCache(tmp_path, "alice/m1")
    rc.blob_path("e1").parent.mkdir(parents=True)
    rc.blob_path("e1").write_bytes(b"hello")
    pointer = rc.link_snapshot(COMMIT, "sub/w.bin", "e1")
    assert os.readlink(pointer) == "../../../blobs/e1"
    assert pointer.read_bytes() == b"hello"
    assert rc.link_snapshot(COMMIT, "sub/w.bin", "e1") == pointer  # idempotent
    rc.mark_missing(COMMIT, "nope.txt")
    assert rc.is_known_missing(COMMIT, "nope.txt")
    assert rc.no_exist_path(COMMIT, "nope.txt").stat().st_size == 0


def test_copy_when_symlinks_disabled(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_DISABLE_SYMLINKS", "1")
    rc = cl.RepoCache(tmp_path, "alice/m1")
    rc.blob_path("e1").parent.mkdir(parents=True)
    rc.blob_path("e1").write_bytes(b"x")
    pointer = rc.link_snapshot(COMMIT, "a.txt", "e1")
    assert not pointer.is_symlink() and pointer.read_bytes() == b"x"


def test_tree_file_format(tmp_path):
    rc = cl.RepoCache(tmp_path, "alice/m1")
    entries = {
        "config.json": cl.TreeEntry(size=8, blob_id="1" * 40),
        "w.bin": cl.TreeEntry(size=300, blob_id="2" * 40, lfs_sha256="3" * 64, lfs_size=300),
    }
    rc.write_tree(COMMIT, entries)
    import json

    data = json.loads(rc.tree_path(COMMIT).read_text())
    assert data == {
        "format_version": 1,
        "files": {
            "config.json": {"size": 8, "blob_id": "1" * 40},
            "w.bin": {"size": 300, "blob_id": "2" * 40, "lfs_sha256": "3" * 64, "lfs_size": 300},
        },
    }
    assert rc.read_tree(COMMIT) == entries
    assert entries["w.bin"].etag == "3" * 64 and entries["config.json"].etag == "1" * 40
    rc.tree_path(COMMIT).write_text("{broken")
    assert rc.read_tree(COMMIT) is None


def test_cachedir_tag(tmp_path):
    rc = cl.RepoCache(tmp_path / "cache", "alice/m1")
    rc.ensure_cachedir_tag()
    assert (
        (tmp_path / "cache" / "CACHEDIR.TAG")
        .read_text()
        .startswith("Signature: 8a477f597d28d172789f06886806bc55")
    )


def test_local_dir_metadata(tmp_path):
    f, meta, lock = cl.local_dir_paths(tmp_path, "sub/x.bin")
    assert meta == tmp_path / ".cache" / "huggingface" / "download" / "sub" / "x.bin.metadata"
    assert lock == tmp_path / ".cache" / "huggingface" / "download" / "sub" / "x.bin.lock"
    f.parent.mkdir(parents=True)
    f.write_bytes(b"1")
    cl.write_local_dir_metadata(tmp_path, "sub/x.bin", COMMIT, "e" * 64)
    lines = meta.read_text().splitlines()
    assert lines[:2] == [COMMIT, "e" * 64] and float(lines[2]) > 0
    got = cl.read_local_dir_metadata(tmp_path, "sub/x.bin")
    assert got.commit == COMMIT and got.etag == "e" * 64
    os.utime(f, (1e10, 1e10))  # modified after the metadata: stale
    assert cl.read_local_dir_metadata(tmp_path, "sub/x.bin") is None


def _blob(rc, content: bytes, lfs: bool) -> str:
    if lfs:
        etag = hashlib.sha256(content).hexdigest()
    else:
        etag = hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()
    rc.blob_path(etag).parent.mkdir(parents=True, exist_ok=True)
    rc.blob_path(etag).write_bytes(content)
    return etag


def test_verify_scan_and_prune(tmp_path):
    rc = cl.RepoCache(tmp_path, "alice/m1")
    good = _blob(rc, b"good content", lfs=True)
    small = _blob(rc, b"small", lfs=False)
    orphan = _blob(rc, b"orphan", lfs=True)
    old = "d" * 40
    rc.link_snapshot(COMMIT, "w.bin", good)
    rc.link_snapshot(COMMIT, "c.txt", small)
    rc.link_snapshot(old, "old.bin", orphan)
    rc.write_ref("main", COMMIT)
    rc.incomplete_path("f" * 64).write_bytes(b"partial")
    assert cl.verify_cache(tmp_path) == []
    rc.blob_path(good).write_bytes(b"bad content!")  # same size, different bytes
    assert cl.verify_cache(tmp_path) == [rc.blob_path(good)]

    [repo] = cl.scan_cache(tmp_path)
    assert (
        repo.repo_id == "alice/m1" and repo.refs == {"main": COMMIT} and set(repo.snapshots) == {COMMIT, old}
    )
    assert repo.nb_files == 3

    plan = cl.plan_prune(tmp_path, verify=True)
    assert plan.incomplete == [rc.incomplete_path("f" * 64)]
    assert plan.unreferenced_snapshots == [rc.snapshot_dir(old)]
    assert plan.orphan_blobs == [rc.blob_path(orphan)]
    assert plan.corrupted_blobs == [rc.blob_path(good)]
    cl.apply_prune(plan)
    assert not rc.snapshot_dir(old).exists() and not rc.blob_path(orphan).exists()
    assert not rc.snapshot_path(COMMIT, "w.bin").is_symlink()  # dangling link to the corrupted blob dropped
    assert rc.snapshot_path(COMMIT, "c.txt").read_bytes() == b"small"
