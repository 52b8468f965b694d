"""Repo names are unique ignoring case, as on the Hub: any casing finds the repo and the answers name it as it was
created; downloads (official client and ours) work in any casing, also from the cache when offline."""

from __future__ import annotations

from pathlib import Path

import pytest

hf = pytest.importorskip("huggingface_hub")
from huggingface_hub import HfApi  # noqa: E402
from huggingface_hub import errors as hf_errors  # noqa: E402

pytestmark = pytest.mark.interop


def test_any_casing_finds_the_repo_and_answers_the_canonical_name(hub, tmp_path) -> None:
    api = HfApi(endpoint=hub.url, token=hub.token)
    canonical = f"alice/CaseRepo-{hub.unique_name()}"
    other = canonical.upper().replace("ALICE/", "Alice/")
    api.create_repo(canonical)
    api.upload_file(path_or_fileobj=b"{}", path_in_repo="config.json", repo_id=other)  # writes in any casing
    # a second repo differing only by case cannot be created; exist_ok answers the existing one
    with pytest.raises(hf_errors.HfHubHTTPError) as exc:
        api.create_repo(canonical.lower())
    assert exc.value.response.status_code == 409
    assert api.create_repo(canonical.lower(), exist_ok=True).repo_id == canonical
    assert api.model_info(other).id == canonical
    assert api.model_info(canonical.lower()).id == canonical
    assert api.list_repo_files(other) == [".gitattributes", "config.json"]
    assert canonical in [
        m.id for m in api.list_models(author="ALICE", search=canonical.split("/")[1].lower())
    ]
    # the official client downloads in any casing
    for name in (canonical, other):
        path = hf.hf_hub_download(name, "config.json", cache_dir=tmp_path / "hf")
        assert Path(path).read_bytes() == b"{}"
        snap = hf.snapshot_download(name, cache_dir=tmp_path / "hf")
        assert sorted(p.name for p in Path(snap).iterdir()) == [".gitattributes", "config.json"]
    # a namespace typed in another casing still lands in the user's own namespace
    made = api.create_repo(f"ALICE/made-{hub.unique_name()}")
    assert made.repo_id.startswith("alice/")
    # a rename to another casing of itself is allowed
    renamed = canonical.replace("CaseRepo", "caserepo")
    api.move_repo(canonical, renamed)
    assert api.model_info(canonical).id == renamed


def test_offline_cache_in_the_casing_used(hub, tmp_path, monkeypatch) -> None:
    api = HfApi(endpoint=hub.url, token=hub.token)
    canonical = f"alice/Offline-{hub.unique_name()}"
    api.create_repo(canonical)
    api.upload_file(path_or_fileobj=b"w", path_in_repo="w.txt", repo_id=canonical)
    other = canonical.lower()
    online = hf.hf_hub_download(other, "w.txt", cache_dir=tmp_path / "hf")
    from modelhub.client import hub_download  # our client too

    ours = hub_download(other, "w.txt", cache_dir=tmp_path / "ours", token=hub.token)
    assert Path(ours).read_bytes() == b"w"
    monkeypatch.setattr(hf.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hf.hf_hub_download(other, "w.txt", cache_dir=tmp_path / "hf") == online
    assert hub_download(other, "w.txt", cache_dir=tmp_path / "ours") == ours
