"""modelhub's own client through hf_xet (the ``xet`` extra) against the real server: uploads and downloads use Xet
when the hub offers it, LFS and plain HTTP with ``HF_HUB_DISABLE_XET=1``; bytes verified either way."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelhub.client import HubApi, hub_download, snapshot_download

from ..server._xet import sha256_file, traffic, write_random

pytest.importorskip("hf_xet")
MB = 2**20


def _setup(hub, tmp_path: Path, name: str, size: int) -> tuple[HubApi, str, Path, str]:
    """A client, a new repo and a random file (api, repo id, path, SHA-256)."""
    api = HubApi(endpoint=hub.url, token=hub.token)
    repo_id = hub.new_repo_id("mhx")
    api.create_repo(repo_id)
    src = tmp_path / name
    return api, repo_id, src, write_random(src, size, seed=size)


def test_upload_and_download_through_xet(hub, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("HF_HUB_DISABLE_XET", raising=False)
    api, repo_id, src, sha = _setup(hub, tmp_path, "w.safetensors", 12 * MB)
    with traffic(hub.server) as up:
        api.upload_file(path_or_fileobj=str(src), path_in_repo="w.safetensors", repo_id=repo_id)
        api.upload_file(path_or_fileobj=b"\0" * (3 * MB), path_in_repo="zeros.bin", repo_id=repo_id)
    assert len(up.to("POST", "/cas/v1/shards", 200)) == 2
    assert not [h for h in up.hits if "/info/lfs/" in h.path or h.path.startswith("/lfs-upload/")]
    assert up.commit_received() < 4000

    with traffic(hub.server) as down:
        got = hub_download(repo_id, "w.safetensors", cache_dir=tmp_path / "c", token=hub.token)
        snap = snapshot_download(repo_id, cache_dir=tmp_path / "c2", token=hub.token)
    assert sha256_file(got) == sha and sha256_file(Path(snap) / "w.safetensors") == sha
    assert (Path(snap) / "zeros.bin").read_bytes() == b"\0" * (3 * MB)
    assert len(down.to("GET", "/cas/v2/reconstructions/", 200)) == 3
    resolved = [h.path for h in down.hits if h.method == "GET" and "/resolve/" in h.path]
    assert not [p for p in resolved if p.endswith((".safetensors", ".bin"))], resolved  # large files: via Xet


def test_disable_xet_keeps_to_lfs_and_plain_http(hub, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    api, repo_id, src, sha = _setup(hub, tmp_path, "w.bin", 11 * MB)
    with traffic(hub.server) as t:
        api.upload_file(path_or_fileobj=str(src), path_in_repo="w.bin", repo_id=repo_id)
        got = hub_download(repo_id, "w.bin", cache_dir=tmp_path / "c", token=hub.token)
    assert sha256_file(got) == sha
    assert not [h for h in t.hits if h.path.startswith("/cas/") or "xet-" in h.path]
    assert t.to("PUT", "/lfs-upload/", 200)
