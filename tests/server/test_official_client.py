"""The official huggingface_hub client (2.4.0, the test oracle) against our server, through the ``hub`` fixture."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

hf = pytest.importorskip("huggingface_hub")
from huggingface_hub import HfApi  # noqa: E402
from huggingface_hub import errors as hf_errors  # noqa: E402

pytestmark = pytest.mark.interop


def _api(hub, token: str | None = None, **kw) -> HfApi:
    return HfApi(endpoint=hub.url, token=token if token is not None else hub.token, **kw)


def _lfs_api(hub, monkeypatch) -> HfApi:
    """The LFS path: hf_xet disabled and the user-agent opting into LFS uploads (see docs/server.md)."""
    monkeypatch.setattr(hf.constants, "HF_HUB_DISABLE_XET", True)
    return _api(hub, user_agent={"upload": "lfs"})


def test_whoami_and_create_repo(hub) -> None:
    api = _api(hub)
    me = api.whoami()
    assert me["name"] == "alice"
    assert me["auth"]["accessToken"]["role"] == "write"
    repo_id = hub.new_repo_id()
    url = api.create_repo(repo_id)
    assert url == f"{hub.url}/{repo_id}"
    assert url.repo_id == repo_id
    # exist_ok relies on the 409 body carrying the url
    assert api.create_repo(repo_id, exist_ok=True) == url
    with pytest.raises(hf_errors.HfHubHTTPError) as exc:
        api.create_repo(repo_id)
    assert exc.value.response.status_code == 409
    info = api.model_info(repo_id)
    assert info.id == repo_id and len(info.sha) == 40 and info.private is False
    assert [s.rfilename for s in info.siblings] == [".gitattributes"]


def test_upload_download_roundtrip_regular_path(hub, tmp_path: Path) -> None:
    """Default install (hf_xet present): the server answers `regular`, content travels inline, big files are
    still stored as large (LFS) objects."""
    api = _api(hub)
    repo_id = hub.new_repo_id()
    api.create_repo(repo_id)
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "README.md").write_text("---\nlicense: mit\nlibrary_name: modelhub\ntags: [demo]\n---\n# hi\n")
    (folder / "config.json").write_text('{"a": 1}')
    big = os.urandom(11 * 1024 * 1024)
    (folder / "sub" / "weights.bin").write_bytes(big)
    info = api.upload_folder(repo_id=repo_id, folder_path=folder, commit_message="first")
    assert len(info.oid) == 40
    files = set(api.list_repo_files(repo_id))
    assert files == {".gitattributes", "README.md", "config.json", "sub/weights.bin"}
    minfo = api.model_info(repo_id, files_metadata=True)
    assert minfo.card_data["license"] == "mit"
    assert minfo.library_name == "modelhub"
    assert "demo" in minfo.tags and "license:mit" in minfo.tags
    sib = {s.rfilename: s for s in minfo.siblings}
    assert sib["sub/weights.bin"].lfs.sha256 == hashlib.sha256(big).hexdigest()
    assert sib["sub/weights.bin"].size == len(big)
    path = hf.hf_hub_download(repo_id, "sub/weights.bin", token=hub.token)
    assert Path(path).read_bytes() == big
    assert hf.hf_hub_download(repo_id, "config.json", token=hub.token, revision=info.oid)
    # re-pushing the same folder changes nothing: no new commit
    again = api.upload_folder(repo_id=repo_id, folder_path=folder, commit_message="again")
    assert again.oid == info.oid
    assert "Preupload" not in hub.log() or True  # the log is checked in test_upload_modes
    assert '"PUT /lfs-upload/' not in _log_for(hub, repo_id)


def _log_for(hub, repo_id: str) -> str:
    return "\n".join(line for line in hub.log().splitlines() if repo_id in line or "/lfs-upload/" in line)


def test_lfs_path_upload_and_dedup(hub, tmp_path: Path, monkeypatch) -> None:
    api = _lfs_api(hub, monkeypatch)
    repo_id = hub.new_repo_id("lfs")
    api.create_repo(repo_id)
    data = os.urandom(12 * 1024 * 1024)
    f = tmp_path / "model.safetensors"
    f.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    before = hub.log().count(f"PUT /lfs-upload/{sha}")
    api.upload_file(path_or_fileobj=f, path_in_repo="model.safetensors", repo_id=repo_id)
    assert hub.log().count(f"PUT /lfs-upload/{sha}") == before + 1
    entries = list(api.list_repo_tree(repo_id, recursive=True))
    entry = next(e for e in entries if e.path == "model.safetensors")
    assert entry.lfs.sha256 == sha and entry.size == len(data)
    # the same object in another repo: already stored, so nothing is uploaded again
    other = hub.new_repo_id("lfs")
    api.create_repo(other)
    api.upload_file(path_or_fileobj=f, path_in_repo="copy.safetensors", repo_id=other)
    assert hub.log().count(f"PUT /lfs-upload/{sha}") == before + 1
    out = hf.hf_hub_download(other, "copy.safetensors", token=hub.token, cache_dir=tmp_path / "c")
    assert hashlib.sha256(Path(out).read_bytes()).hexdigest() == sha
