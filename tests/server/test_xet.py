"""The official client 2.4.0 with hf_xet 1.8.0 (its default install) against the real server: uploads and
downloads through Xet, verified byte-identical; the traffic checked in the server's access log."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx
import pytest

from .._hub import client_env
from ._xet import sha256_file, traffic, write_random

hf = pytest.importorskip("huggingface_hub")
pytest.importorskip("hf_xet")
from huggingface_hub import CommitOperationAdd, HfApi, hf_hub_download, snapshot_download  # noqa: E402

pytestmark = pytest.mark.interop
MB = 2**20


@pytest.fixture
def api(hub, monkeypatch) -> HfApi:
    monkeypatch.setattr(hf.constants, "HF_HUB_DISABLE_XET", False)
    monkeypatch.delenv("HF_HUB_DISABLE_XET", raising=False)
    return HfApi(endpoint=hub.url, token=hub.token)


def _assert_through_xet(t, files: int) -> None:
    """The bytes went to the CAS (xorbs + shards accepted), not inline in the commit nor through LFS."""
    assert t.to("GET", "/api/", 200) and any("xet-write-token" in h.path for h in t.hits)
    assert t.to("POST", "/cas/v1/xorbs/", 200), t.hits
    assert t.to("POST", "/cas/v1/shards", 200)
    assert not [h for h in t.hits if "/info/lfs/" in h.path or h.path.startswith("/lfs-upload/")]
    assert t.commit_received() < 2000 * files  # lfsFile lines only: no base64 content


def test_upload_file_and_download_through_xet(hub, api, tmp_path: Path) -> None:
    repo_id = hub.new_repo_id()
    api.create_repo(repo_id)
    src = tmp_path / "weights.bin"
    sha = write_random(src, 24 * MB, seed=1)
    with traffic(hub.server) as up:
        info = api.upload_file(path_or_fileobj=str(src), path_in_repo="weights.bin", repo_id=repo_id)
    _assert_through_xet(up, 1)
    assert up.cas_received() >= 24 * MB

    # the rest of the hub sees an ordinary LFS file, plus its Xet hash
    entry = next(e for e in api.list_repo_tree(repo_id) if e.path == "weights.bin")
    assert entry.lfs.sha256 == sha and entry.size == 24 * MB and len(entry.xet_hash) == 64
    head = httpx.head(
        f"{hub.url}/{repo_id}/resolve/main/weights.bin", headers={"authorization": f"Bearer {hub.token}"}
    )
    assert head.headers["x-xet-hash"] == entry.xet_hash
    assert head.headers["x-linked-etag"] == f'"{sha}"'
    assert f"/api/models/{repo_id}/xet-read-token/{info.oid}>" in head.headers["link"]

    with traffic(hub.server) as down:
        path = hf_hub_download(repo_id, "weights.bin", cache_dir=tmp_path / "cache", token=hub.token)
    assert sha256_file(path) == sha
    assert down.to("GET", "/cas/v2/reconstructions/", 200) and down.to("GET", "/cas/v1/fetch/", 206)
    assert not [h for h in down.hits if "/resolve/" in h.path and h.method == "GET"]


def test_create_commit_several_files_create_pr_dataset(hub, api, tmp_path: Path) -> None:
    repo_id = hub.new_repo_id("d")
    api.create_repo(repo_id, repo_type="dataset")
    shas = {}
    ops = []
    for i in range(3):
        p = tmp_path / f"part-{i}.bin"
        shas[f"data/part-{i}.bin"] = write_random(p, (5 + i) * MB, seed=10 + i)
        ops.append(CommitOperationAdd(path_in_repo=f"data/part-{i}.bin", path_or_fileobj=str(p)))
    ops.append(CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=b"# data\n"))
    with traffic(hub.server) as up:
        info = api.create_commit(
            repo_id, ops, commit_message="three parts", repo_type="dataset", create_pr=True
        )
    _assert_through_xet(up, 4)
    assert info.pr_num == 1 and any(
        "create_pr=1" in h.path or "None" in h.path for h in up.to("GET", "/api/")
    )
    assert "data/part-0.bin" not in api.list_repo_files(repo_id, repo_type="dataset")  # main did not move

    local = snapshot_download(
        repo_id, repo_type="dataset", revision="refs/pr/1", cache_dir=tmp_path / "c", token=hub.token
    )
    for rel, sha in shas.items():
        assert sha256_file(Path(local) / rel) == sha
    assert (Path(local) / "README.md").read_bytes() == b"# data\n"


def test_upload_folder_through_xet(hub, api, tmp_path: Path) -> None:
    repo_id = hub.new_repo_id()
    api.create_repo(repo_id)
    folder = tmp_path / "model"
    folder.mkdir()
    sha = write_random(folder / "model.safetensors", 11 * MB, seed=3)
    (folder / "config.json").write_text('{"hidden": 4}')
    with traffic(hub.server) as up:
        api.upload_folder(repo_id=repo_id, folder_path=folder)
    _assert_through_xet(up, 2)
    got = hf_hub_download(repo_id, "model.safetensors", cache_dir=tmp_path / "c", token=hub.token)
    assert sha256_file(got) == sha


def test_same_content_through_xet_and_lfs_is_one_file(hub, api, tmp_path: Path, monkeypatch) -> None:
    """A file uploaded through Xet can be committed by SHA-256 elsewhere by its uploader, and an LFS client sees
    an ordinary LFS object (batch says: already stored)."""
    repo_id = hub.new_repo_id()
    api.create_repo(repo_id)
    data = os.urandom(3 * MB)
    sha = hashlib.sha256(data).hexdigest()
    api.upload_file(path_or_fileobj=data, path_in_repo="a.bin", repo_id=repo_id)
    # the LFS batch API of the same repo knows the object (no upload action)
    batch = httpx.post(
        f"{hub.url}/{repo_id}.git/info/lfs/objects/batch",
        json={"operation": "upload", "objects": [{"oid": sha, "size": len(data)}]},
        headers={"authorization": f"Bearer {hub.token}", "accept": "application/vnd.git-lfs+json"},
    ).json()
    assert "actions" not in batch["objects"][0] and "error" not in batch["objects"][0]
    # and a commit naming it by SHA-256 (a copy) lands without re-sending the bytes
    api.create_commit(
        repo_id,
        [hf.CommitOperationCopy(src_path_in_repo="a.bin", path_in_repo="b.bin")],
        commit_message="copy",
    )
    monkeypatch.setattr(hf.constants, "HF_HUB_DISABLE_XET", True)
    got = hf_hub_download(repo_id, "b.bin", cache_dir=tmp_path / "c", token=hub.token)
    assert Path(got).read_bytes() == data


def test_file_repeating_one_chunk_round_trips(hub, api, tmp_path: Path) -> None:
    """A periodic file chunks into one chunk repeated: its terms all name chunk 0 of one xorb, and the plan
    must give each term a fetch range that covers it (they are merged per xorb)."""
    repo_id = hub.new_repo_id()
    api.create_repo(repo_id)
    data = hashlib.sha256(b"interop").digest() * 40000
    api.upload_file(path_or_fileobj=data, path_in_repo="w.bin", repo_id=repo_id)
    got = hf_hub_download(repo_id, "w.bin", cache_dir=tmp_path / "c", token=hub.token)
    assert Path(got).read_bytes() == data
    with hub.http(hub.token) as c:
        assert (
            c.get(f"/{repo_id}/resolve/main/w.bin", headers={"range": "bytes=131000-300000"}).content
            == (data[131000:300001])
        )


def test_hf_upload_cli_through_xet(hub, tmp_path: Path) -> None:
    """``hf upload`` (the official CLI, default install) of a folder with a large file."""
    import shutil
    import subprocess
    import sys

    hf_cli = shutil.which("hf") or str(Path(sys.executable).parent / "hf")
    repo_id = hub.new_repo_id("cli")
    folder = tmp_path / "up"
    folder.mkdir()
    sha = write_random(folder / "model.bin", 6 * MB, seed=31)
    (folder / "notes.txt").write_text("hi")
    env = client_env(tmp_path / "home", HF_ENDPOINT=hub.url, HF_TOKEN=hub.token)
    with traffic(hub.server) as up:
        res = subprocess.run(
            [hf_cli, "upload", repo_id, str(folder), ".", "--commit-message", "cli"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert res.returncode == 0, res.stderr[-3000:]
    _assert_through_xet(up, 2)
    got = hf_hub_download(repo_id, "model.bin", cache_dir=tmp_path / "c", token=hub.token)
    assert sha256_file(got) == sha
