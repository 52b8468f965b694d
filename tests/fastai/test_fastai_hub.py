"""push_to_hub_fastai / from_pretrained_fastai against the real modelhub server (the `hub` fixture)."""

from __future__ import annotations

import logging
import os
import pickle
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelhub.client import HubApi, hub_download
from modelhub.errors import (
    CorruptedFileError,
    EntryNotFoundError,
    RepositoryNotFoundError,
)
from modelhub.mixins.fastai import UntrustedPickleError, from_pretrained_fastai, push_to_hub_fastai

from .._healing import DAMAGES, check_heals
from ._learners import make_learner, predictions

pytestmark = pytest.mark.fastai
torch = pytest.importorskip("torch")
pytest.importorskip("fastai.learner", reason="fastai is not installed")


def _files(hub: Any, repo_id: str, revision: str | None = None) -> set[str]:
    return set(HubApi(token=hub.token).list_repo_files(repo_id, revision=revision))


def _cached_pickles() -> list[Path]:
    return list(Path(os.environ["HF_HUB_CACHE"]).rglob("model.pkl"))


def test_push_then_load_by_revision(hub: Any, learner: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    repo_id = hub.new_repo_id()
    first = push_to_hub_fastai(learner, repo_id=repo_id, token=hub.token, config={"task": "regression"})
    assert isinstance(first, str) and first.startswith(hub.url) and first.oid in first
    assert {"model.pkl", "pyproject.toml", "README.md", "config.json"} <= _files(hub, repo_id)

    second_learner = make_learner(seed=5, epochs=3)
    second = push_to_hub_fastai(second_learner, repo_id=repo_id, token=hub.token, commit_message="retrained")
    assert second.oid != first.oid
    assert not torch.equal(predictions(learner), predictions(second_learner))

    by_argument = from_pretrained_fastai(repo_id, revision=first.oid, trust_pickle=True)
    by_suffix = from_pretrained_fastai(f"{repo_id}@{first.oid}", trust_pickle=True)
    latest = from_pretrained_fastai(repo_id, trust_pickle=True)
    assert torch.equal(predictions(by_argument), predictions(learner))
    assert torch.equal(predictions(by_suffix), predictions(learner))
    assert torch.equal(predictions(latest), predictions(second_learner))

    HubApi(token=hub.token).create_tag(repo_id, tag="v1", revision=first.oid)
    assert torch.equal(
        predictions(from_pretrained_fastai(f"{repo_id}@v1", trust_pickle=True)), predictions(learner)
    )

    # Served from the cache alone once downloaded.
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    cached = from_pretrained_fastai(f"{repo_id}@{first.oid}", local_files_only=True, trust_pickle=True)
    assert torch.equal(predictions(cached), predictions(learner))


def test_trust_gate(hub: Any, learner: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    repo_id = hub.new_repo_id()
    push_to_hub_fastai(learner, repo_id=repo_id, token=hub.token)
    monkeypatch.delenv("MODELHUB_TRUST_REMOTE_PICKLE", raising=False)
    with pytest.raises(UntrustedPickleError) as info:
        from_pretrained_fastai(repo_id)
    assert "unpickling runs" in str(info.value) and "trust_pickle=True" in str(info.value)
    assert _cached_pickles() == []  # refused before downloading

    monkeypatch.setenv("MODELHUB_TRUST_REMOTE_PICKLE", "1")
    assert torch.equal(predictions(from_pretrained_fastai(repo_id)), predictions(learner))
    with pytest.raises(UntrustedPickleError, match="trust_pickle=False"):
        from_pretrained_fastai(repo_id, trust_pickle=False)
    monkeypatch.setenv("MODELHUB_TRUST_REMOTE_PICKLE", "0")
    with pytest.raises(UntrustedPickleError):
        from_pretrained_fastai(repo_id)
    assert torch.equal(predictions(from_pretrained_fastai(repo_id, trust_pickle=True)), predictions(learner))


def test_card_is_written_once_and_never_replaced(hub: Any, learner: Any) -> None:
    repo_id = hub.new_repo_id()
    push_to_hub_fastai(learner, repo_id=repo_id, token=hub.token)
    text = Path(hub_download(repo_id, "README.md")).read_text(encoding="utf-8")
    metadata = yaml.safe_load(text.split("---\n")[1])
    assert "fastai" in metadata["tags"] and metadata["library_name"] == "fastai"
    assert repo_id in text  # the usage snippet names the repo

    api = HubApi(token=hub.token)
    api.upload_file(path_or_fileobj=b"# hand-written card\n", path_in_repo="README.md", repo_id=repo_id)
    push_to_hub_fastai(make_learner(seed=2), repo_id=repo_id, token=hub.token)
    assert Path(hub_download(repo_id, "README.md")).read_bytes() == b"# hand-written card\n"
    # Unless the push itself deletes it: then the repo gets a fresh card rather than none.
    push_to_hub_fastai(make_learner(seed=2), repo_id=repo_id, token=hub.token, delete_patterns="*.md")
    assert "tags:\n- fastai" in Path(hub_download(repo_id, "README.md")).read_text(encoding="utf-8")


def test_branch_and_pull_request(hub: Any, learner: Any) -> None:
    repo_id = hub.new_repo_id()
    push_to_hub_fastai(learner, repo_id=repo_id, token=hub.token)
    on_dev = make_learner(seed=3, epochs=2)
    push_to_hub_fastai(on_dev, repo_id=repo_id, token=hub.token, branch="dev")
    assert torch.equal(
        predictions(from_pretrained_fastai(f"{repo_id}@dev", trust_pickle=True)), predictions(on_dev)
    )
    assert torch.equal(predictions(from_pretrained_fastai(repo_id, trust_pickle=True)), predictions(learner))

    proposed = make_learner(seed=4, epochs=2)
    pr = push_to_hub_fastai(
        proposed, repo_id=repo_id, token=hub.token, create_pr=True, commit_message="Try this"
    )
    assert pr.pr_url is not None and pr.pr_revision is not None
    loaded = from_pretrained_fastai(repo_id, revision=pr.pr_revision, trust_pickle=True)
    assert torch.equal(predictions(loaded), predictions(proposed))
    # main is untouched by the pull request
    assert torch.equal(predictions(from_pretrained_fastai(repo_id, trust_pickle=True)), predictions(learner))


def test_branch_of_a_new_repo_is_created(hub: Any, learner: Any) -> None:
    repo_id = hub.new_repo_id()
    push_to_hub_fastai(learner, repo_id=repo_id, token=hub.token, branch="experiments/v2")
    assert "model.pkl" not in _files(hub, repo_id)
    assert {"model.pkl", "pyproject.toml", "README.md"} <= _files(hub, repo_id, revision="experiments/v2")
    loaded = from_pretrained_fastai(f"{repo_id}@experiments/v2", trust_pickle=True)
    assert torch.equal(predictions(loaded), predictions(learner))


def test_patterns(hub: Any, learner: Any) -> None:
    repo_id = hub.new_repo_id()
    api = HubApi(token=hub.token)
    api.create_repo(repo_id)
    api.upload_file(path_or_fileobj=b"old weights", path_in_repo="old/weights.bin", repo_id=repo_id)
    push_to_hub_fastai(
        learner,
        repo_id=repo_id,
        token=hub.token,
        config={"a": 1},
        ignore_patterns=["README.md", "config.json"],
        delete_patterns="*.bin",
    )
    files = _files(hub, repo_id)
    assert {"model.pkl", "pyproject.toml"} <= files
    assert not files & {"README.md", "config.json", "old/weights.bin"}

    other = hub.new_repo_id()
    push_to_hub_fastai(learner, repo_id=other, token=hub.token, allow_patterns="model.pkl")
    assert "model.pkl" in _files(hub, other) and "pyproject.toml" not in _files(hub, other)


def test_api_endpoint_overrides_the_environment(
    hub: Any, learner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo_id = hub.new_repo_id()
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    commit = push_to_hub_fastai(learner, repo_id=repo_id, token=hub.token, api_endpoint=hub.url, private=True)
    assert commit.startswith(hub.url)
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    with pytest.raises(RepositoryNotFoundError):  # private: invisible without a token
        from_pretrained_fastai(repo_id, trust_pickle=True, token=False)
    loaded = from_pretrained_fastai(repo_id, trust_pickle=True, token=hub.token)
    assert torch.equal(predictions(loaded), predictions(learner))


def test_unpicklable_learner_creates_nothing(hub: Any) -> None:
    repo_id = hub.new_repo_id()
    bad = make_learner(seed=1, get_y_fn=lambda row: row[1:])
    with pytest.raises(pickle.PicklingError, match=r"functools\.partial"):
        push_to_hub_fastai(bad, repo_id=repo_id, token=hub.token)
    with pytest.raises(RepositoryNotFoundError):
        HubApi(token=hub.token).repo_info(repo_id)
    bad.fit(1)  # the learner kept its data and optimizer


def test_old_versions_on_the_hub_are_refused(hub: Any, learner: Any) -> None:
    repo_id = hub.new_repo_id()
    push_to_hub_fastai(learner, repo_id=repo_id, token=hub.token)
    old = b'[build-system]\nrequires = ["setuptools>=40.8.0", "wheel", "python=3.8.10", "fastai=2.3.1", "fastcore=1.3.20"]\n'
    HubApi(token=hub.token).upload_file(path_or_fileobj=old, path_in_repo="pyproject.toml", repo_id=repo_id)
    with pytest.raises(ImportError) as info:
        from_pretrained_fastai(repo_id, trust_pickle=True)
    assert "saved with fastai 2.3.1" in str(info.value) and "older than fastai 2.4" in str(info.value)
    assert repo_id in str(info.value)


def test_missing_pyproject_on_the_hub_warns(hub: Any, learner: Any, caplog: pytest.LogCaptureFixture) -> None:
    repo_id = hub.new_repo_id()
    push_to_hub_fastai(learner, repo_id=repo_id, token=hub.token, ignore_patterns="pyproject.toml")
    with caplog.at_level(logging.WARNING, logger="modelhub"):
        loaded = from_pretrained_fastai(repo_id, trust_pickle=True)
    assert any("There is no pyproject.toml" in r.getMessage() for r in caplog.records)
    assert torch.equal(predictions(loaded), predictions(learner))


def test_repo_without_a_learner(hub: Any) -> None:
    repo_id = hub.new_repo_id()
    api = HubApi(token=hub.token)
    api.create_repo(repo_id)
    api.upload_file(path_or_fileobj=b"{}", path_in_repo="config.json", repo_id=repo_id)
    with pytest.raises(EntryNotFoundError, match="no model.pkl"):
        from_pretrained_fastai(repo_id, trust_pickle=True)


@pytest.mark.interop
def test_official_client_and_ours_share_repos(
    hub: Any, learner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The official huggingface_hub (oracle) loads what we pushed, and we load what it pushed, on our server."""
    fastai_utils = pytest.importorskip("huggingface_hub.fastai_utils")
    pytest.importorskip("toml", reason="the official fastai loader needs the toml package")
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    ours = hub.new_repo_id()
    push_to_hub_fastai(learner, repo_id=ours, token=hub.token)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs_loaded = fastai_utils.from_pretrained_fastai(ours)
    assert torch.equal(predictions(theirs_loaded), predictions(learner))

    theirs = hub.new_repo_id()
    other = make_learner(seed=6, epochs=1)
    fastai_utils.push_to_hub_fastai(other, repo_id=theirs, token=hub.token)
    assert torch.equal(predictions(from_pretrained_fastai(theirs, trust_pickle=True)), predictions(other))


def test_cache_dir_and_force_download_reach_the_download(hub: Any, learner: Any, tmp_path: Path) -> None:
    repo_id = hub.new_repo_id()
    push_to_hub_fastai(learner, repo_id=repo_id, token=hub.token)
    cache = tmp_path / "fastai-cache"
    loaded = from_pretrained_fastai(repo_id, cache_dir=cache, trust_pickle=True)
    assert torch.equal(predictions(loaded), predictions(learner))
    assert not _cached_pickles(), "cache_dir was ignored: the default cache was used"
    cached = next(cache.glob(f"models--{repo_id.replace('/', '--')}/snapshots/*/model.pkl")).resolve()

    cached.write_bytes(b"truncated")
    with pytest.raises(CorruptedFileError, match="model.pkl"):
        from_pretrained_fastai(repo_id, cache_dir=cache, local_files_only=True, trust_pickle=True)
    repaired = from_pretrained_fastai(repo_id, cache_dir=cache, force_download=True, trust_pickle=True)
    assert torch.equal(predictions(repaired), predictions(learner))


def test_private_push_patterns_endpoint_and_token(hub: Any, learner: Any) -> None:
    repo_id = hub.new_repo_id()
    commit = push_to_hub_fastai(
        learner,
        repo_id=repo_id,
        token=hub.token,
        private=True,
        config={"not": "uploaded"},
        ignore_patterns="config.json",
        api_endpoint=hub.url,
    )
    assert commit.startswith(hub.url)
    files = _files(hub, repo_id) - {".gitattributes"}  # (the hub's own file, if it writes one)
    assert files == {"model.pkl", "pyproject.toml", "README.md"}
    with pytest.raises(RepositoryNotFoundError):  # private: invisible without a token
        from_pretrained_fastai(repo_id, token=False, trust_pickle=True)
    loaded = from_pretrained_fastai(repo_id, token=hub.read_token, trust_pickle=True)
    assert torch.equal(predictions(loaded), predictions(learner))


@pytest.mark.parametrize("how", DAMAGES)
def test_damaged_cache_heals(hub: Any, learner: Any, how: str, caplog: Any, monkeypatch: Any) -> None:

    repo_id = hub.new_repo_id()
    push_to_hub_fastai(learner, repo_id=repo_id, token=hub.token)
    expected = predictions(learner)
    load = lambda: from_pretrained_fastai(repo_id, trust_pickle=True)  # noqa: E731
    load()
    check_heals(
        load,
        lambda loaded: None if torch.equal(predictions(loaded), expected) else pytest.fail("wrong model"),
        repo_id,
        "model.pkl",
        how,
        caplog,
        monkeypatch,
    )


def test_single_segment_ids(hub: Any, learner: Any, monkeypatch: Any) -> None:
    from .._bare_hub import bare_id_hub

    repo_id = hub.new_repo_id("bare")
    push_to_hub_fastai(learner, repo_id=repo_id, token=hub.token)
    name = repo_id.split("/")[1]
    with pytest.raises(RepositoryNotFoundError, match="have a namespace"):  # the modelhub hub itself
        from_pretrained_fastai(name, trust_pickle=True)
    with bare_id_hub(hub, monkeypatch) as standin:
        standin.serve(name)
        loaded = from_pretrained_fastai(name, trust_pickle=True)
        assert torch.equal(predictions(loaded), predictions(learner))
