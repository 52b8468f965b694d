"""Upstream's smaller download and cache helpers: hf_hub_url, get_hf_file_metadata, try_to_load_from_cache and
scan_cache_dir (+ delete_revisions), against the real hub and compared with the official client."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from modelhub import (
    _CACHED_NO_EXIST,
    CacheNotFound,
    CommitOperationAdd,
    HfApi,
    get_hf_file_metadata,
    hf_hub_download,
    hf_hub_url,
    scan_cache_dir,
    snapshot_download,
    try_to_load_from_cache,
)
from modelhub.client.download import forget_resolved_revisions

BIG = bytes(range(256)) * 4096


@pytest.fixture
def repo(hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    api = HfApi(token=hub.token)
    repo_id = hub.new_repo_id("helpers")
    api.create_repo(repo_id)
    first = api.create_commit(
        repo_id, [CommitOperationAdd("w.bin", BIG), CommitOperationAdd("c.json", b"{}")], commit_message="1"
    )
    second = api.upload_file(path_or_fileobj=b'{"v": 2}', path_in_repo="c.json", repo_id=repo_id)
    forget_resolved_revisions()
    return repo_id, first.oid, second.oid


def test_hf_hub_url_and_file_metadata(hub, repo):
    repo_id, _, head = repo
    url = hf_hub_url(repo_id, "w.bin")
    assert url == f"{hub.url}/{repo_id}/resolve/main/w.bin"
    assert hf_hub_url(
        repo_id, "x.txt", subfolder="a/b", repo_type="dataset", revision="v 1", endpoint="http://h"
    ) == (f"http://h/datasets/{repo_id}/resolve/v%201/a/b/x.txt")
    meta = get_hf_file_metadata(url, token=hub.token)
    assert meta.commit_hash == head and meta.size == len(BIG) and meta.etag == hashlib.sha256(BIG).hexdigest()
    small = get_hf_file_metadata(hf_hub_url(repo_id, "c.json"))
    assert small.size == 8 and small.etag and len(small.etag) == 40


def test_try_to_load_from_cache(hub, repo, tmp_path):
    repo_id, first, head = repo
    assert try_to_load_from_cache(repo_id, "w.bin") is None  # nothing cached: cannot tell
    path = hf_hub_download(repo_id, "w.bin")
    assert try_to_load_from_cache(repo_id, "w.bin") == path
    assert try_to_load_from_cache(repo_id, "w.bin", revision=head) == path
    with pytest.raises(Exception):  # noqa: B017 - any error: the file is missing upstream too
        hf_hub_download(repo_id, "missing.txt")
    assert try_to_load_from_cache(repo_id, "missing.txt") is _CACHED_NO_EXIST
    assert try_to_load_from_cache(repo_id, "w.bin", revision=first) is None  # that commit is not cached
    os.truncate(path, 10)  # a damaged copy is not offered
    assert try_to_load_from_cache(repo_id, "w.bin") is None


def test_scan_cache_dir_and_delete_revisions(hub, repo, tmp_path):
    repo_id, first, head = repo
    cache = tmp_path / "cache"
    with pytest.raises(CacheNotFound):
        scan_cache_dir(cache)
    snapshot_download(repo_id, revision=first, cache_dir=cache)
    snapshot_download(repo_id, cache_dir=cache)
    (cache / "not-a-repo").mkdir()
    info = scan_cache_dir(cache)
    (cached,) = info.repos
    assert cached.repo_id == repo_id and cached.repo_type == "model"
    assert {r.commit_hash for r in cached.revisions} == {first, head}
    assert cached.refs["main"].commit_hash == head
    blobs = {p.resolve() for p in (cache / f"models--{repo_id.replace('/', '--')}").glob("snapshots/*/*")}
    assert cached.nb_files == len(blobs) == 4  # .gitattributes, w.bin, and two versions of c.json
    assert cached.size_on_disk == sum(b.stat().st_size for b in blobs) == info.size_on_disk
    assert [str(w) for w in info.warnings if "not-a-repo" in str(w)]
    by_commit = {r.commit_hash: r for r in cached.revisions}
    assert {f.file_name for f in by_commit[first].files} == {".gitattributes", "w.bin", "c.json"}
    plan = info.delete_revisions(first)
    assert plan.expected_freed_size == 2  # w.bin is shared with main; only the old c.json goes
    plan.execute()
    again = scan_cache_dir(cache)
    assert {r.commit_hash for r in next(iter(again.repos)).revisions} == {head}
    assert Path(hf_hub_download(repo_id, "w.bin", cache_dir=cache)).read_bytes() == BIG
    scan_cache_dir(cache).delete_revisions(head).execute()
    assert not scan_cache_dir(cache).repos


@pytest.mark.interop
def test_same_answers_as_the_official_client(hub, repo, monkeypatch, tmp_path):
    from tests._hub import point_official_client

    repo_id, first, _ = repo
    snapshot_download(repo_id, revision=first)
    snapshot_download(repo_id)
    cache = Path(os.environ["HF_HUB_CACHE"])
    point_official_client(monkeypatch, hub.url, tmp_path / "official")
    import huggingface_hub

    theirs = huggingface_hub.scan_cache_dir(cache)
    ours = scan_cache_dir(cache)
    assert not theirs.warnings  # our .verified/ and trees/ folders do not disturb upstream's scan
    assert theirs.size_on_disk == ours.size_on_disk
    (t,), (o,) = theirs.repos, ours.repos
    assert (t.repo_id, t.nb_files, t.size_on_disk) == (o.repo_id, o.nb_files, o.size_on_disk)
    assert {(r.commit_hash, r.refs, r.nb_files) for r in t.revisions} == {
        (r.commit_hash, r.refs, r.nb_files) for r in o.revisions
    }
    for name in ("w.bin", "c.json"):
        ours_path = try_to_load_from_cache(repo_id, name, cache_dir=cache)
        assert ours_path == huggingface_hub.try_to_load_from_cache(repo_id, name, cache_dir=cache)
    # the tree listing our snapshot_download keeps tells that a file is absent, where upstream cannot tell yet
    assert try_to_load_from_cache(repo_id, "missing.txt", cache_dir=cache) is _CACHED_NO_EXIST
    assert hf_hub_url(repo_id, "a b.txt", revision="refs/pr/1") == huggingface_hub.hf_hub_url(
        repo_id, "a b.txt", revision="refs/pr/1", endpoint=hub.url
    )
