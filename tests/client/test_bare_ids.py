"""Single-segment repo ids (`gpt2`): accepted by every client call against a hub that serves them (the stand-in
of tests/_bare_hub.py), and answered by the modelhub hub with a clear 404 saying its repos have a namespace."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelhub import errors
from modelhub.client import CommitOperationAdd, HubApi, hub_download, snapshot_download
from modelhub.client.download import forget_resolved_revisions

from .._bare_hub import bare_id_hub

BIG = bytes(range(256)) * 4096


@pytest.fixture
def bare_repo(hub, monkeypatch):
    """A repo ``alice/<name>`` on the real hub, served as the bare ``<name>`` by a stand-in hub."""
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    repo_id = hub.new_repo_id("gpt")
    api = HubApi(token=hub.token)
    api.create_repo(repo_id)
    api.create_commit(
        repo_id,
        [CommitOperationAdd("config.json", b'{"n": 1}'), CommitOperationAdd("weights.bin", BIG)],
        commit_message="files",
    )
    forget_resolved_revisions()
    with bare_id_hub(hub, monkeypatch) as standin:
        yield standin, standin.serve(repo_id.split("/")[1])
    forget_resolved_revisions()


def test_every_call_takes_a_bare_id(hub, bare_repo, tmp_path):
    standin, name = bare_repo
    assert "/" not in name
    api = HubApi(token=hub.token)
    assert Path(hub_download(name, "config.json")).read_bytes() == b'{"n": 1}'
    assert "models--" + name in hub_download(name, "weights.bin")  # the cache folder upstream uses too
    folder = Path(snapshot_download(name))
    assert (folder / "weights.bin").read_bytes() == BIG
    assert Path(hub_download(name, "config.json", local_dir=tmp_path / "here")).is_file()
    info = api.model_info(name)
    assert info.sha and {s.rfilename for s in info.siblings} >= {"config.json", "weights.bin"}
    assert api.repo_exists(name) and api.file_exists(name, "config.json")
    assert {"config.json", "weights.bin"} <= set(api.list_repo_files(name))
    assert [c.commit_id for c in api.list_repo_commits(name)][0] == info.sha
    assert "main" in [b.name for b in api.list_repo_refs(name).branches]
    commit = api.upload_file(path_or_fileobj=b"more", path_in_repo="extra.txt", repo_id=name)
    assert commit.oid and api.file_exists(name, "extra.txt")
    api.create_branch(name, branch="dev")
    api.create_tag(name, tag="v1")
    assert hub_download(name, "extra.txt", revision="v1")
    assert any(
        " /api/models/" + name + "/" in r or r.startswith(f"HEAD /{name}/resolve") for r in standin.requests
    )
    # offline, from the cache, too
    forget_resolved_revisions()
    import os

    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        assert Path(hub_download(name, "config.json")).read_bytes() == b'{"n": 1}'
    finally:
        del os.environ["HF_HUB_OFFLINE"]


def test_card_load_takes_a_bare_id(hub, bare_repo):
    from modelhub import ModelCard

    _, name = bare_repo
    HubApi(token=hub.token).upload_file(
        path_or_fileobj=b"---\nlicense: mit\n---\n# Hi\n", path_in_repo="README.md", repo_id=name
    )
    assert ModelCard.load(name).data.license == "mit"


def test_modelhub_hub_answers_bare_ids_with_a_clear_404(hub):
    name = "gpt2"
    for call in (
        lambda: hub_download(name, "config.json"),
        lambda: snapshot_download(name),
        lambda: HubApi().model_info(name),
        lambda: hub_download("squad", "README.md", repo_type="dataset"),
    ):
        with pytest.raises(errors.RepositoryNotFoundError, match="have a namespace"):
            call()


def test_bare_ids_on_two_segment_paths_get_the_hint_too(hub):
    """`/api/models/gpt2/refs` is also the info route of a repo `gpt2/refs`: its not-found answer (401 without a
    token, 404 with one, as for any repo) says repos have a namespace; a repo really named so is served."""
    api = HubApi(token=hub.token)
    for client in (api, HubApi(token=False)):
        for method, kwargs in (
            ("list_repo_refs", {}),
            ("get_repo_discussions", {}),
            ("update_repo_settings", {"private": True}),
        ):
            with pytest.raises(errors.RepositoryNotFoundError, match="have a namespace"):
                answer = getattr(client, method)("gpt2", **kwargs)
                list(answer) if method == "get_repo_discussions" else None
    api.create_repo("alice/refs", exist_ok=True)
    assert api.model_info("alice/refs").id == "alice/refs"


@pytest.mark.interop
def test_official_client_gets_the_same_404(hub, monkeypatch, tmp_path):
    from tests._hub import point_official_client

    point_official_client(monkeypatch, hub.url, tmp_path / "official")
    import huggingface_hub

    with pytest.raises(huggingface_hub.errors.RepositoryNotFoundError, match="have a namespace"):
        huggingface_hub.hf_hub_download("gpt2", "config.json")
