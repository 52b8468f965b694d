"""Mixins and model cards against the real modelhub server (started by the ``hub_server`` fixture), over HTTP."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from modelhub import HubApi, ModelCard, ModelHubMixin, PyTorchModelHubMixin  # noqa: E402
from modelhub.errors import (  # noqa: E402
    CorruptedFileError,
    EntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from .._healing import DAMAGES, check_heals  # noqa: E402

pytestmark = pytest.mark.torch


def _net_init(self: Any, width: int = 8, depth: int = 2, tie: bool = False) -> None:
    nn.Module.__init__(self)
    self.emb = nn.Embedding(12, width)
    self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))
    self.head = nn.Linear(width, 12, bias=False)
    if tie:
        self.head.weight = self.emb.weight


class HubNet(nn.Module, PyTorchModelHubMixin, library_name="hub-lib", tags=["hub"], repo_url="https://code"):
    __init__ = _net_init


def _same(a: Any, b: Any) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _files(hub: Any, repo_id: str, revision: str | None = None, token: str | None = None) -> list[str]:
    return sorted(HubApi(token=token or hub.token).list_repo_files(repo_id, revision=revision))


def test_push_to_main_and_load(hub: Any) -> None:
    repo_id = hub.new_repo_id()
    model = HubNet(width=6, depth=3, tie=True)
    commit = model.push_to_hub(repo_id, token=hub.token, commit_message="first weights")
    assert commit.oid and len(commit.oid) == 40 and commit.commit_message == "first weights"
    assert {"config.json", "model.safetensors", "README.md"} <= set(_files(hub, repo_id))
    loaded = HubNet.from_pretrained(repo_id)
    assert _same(model, loaded) and loaded.head.weight is loaded.emb.weight
    assert loaded._hub_mixin_config == {"width": 6, "depth": 3, "tie": True}
    assert not loaded.training

    card = ModelCard.load(repo_id)
    assert card.data.library_name == "hub-lib"
    assert card.data.tags == ["hub", "model_hub_mixin", "pytorch_model_hub_mixin"]
    assert "https://code" in card.text


def test_push_to_branch_pr_and_load_by_ref(hub: Any) -> None:
    repo_id = hub.new_repo_id()
    v1, v2, v3 = HubNet(), HubNet(), HubNet()
    first = v1.push_to_hub(repo_id, token=hub.token)
    v2.push_to_hub(repo_id, token=hub.token, branch="dev")
    pr = v3.push_to_hub(repo_id, token=hub.token, create_pr=True, commit_message="proposal")
    assert pr.pr_revision == f"refs/pr/{pr.pr_num}" and pr.pr_url

    assert _same(HubNet.from_pretrained(repo_id), v1)
    assert _same(HubNet.from_pretrained(repo_id, revision="dev"), v2)
    v4 = HubNet()
    v4.push_to_hub(repo_id, token=hub.token, branch="dev")  # the branch exists now: pushed onto it
    assert _same(HubNet.from_pretrained(repo_id, revision="dev"), v4)
    assert _same(HubNet.from_pretrained(repo_id, revision=pr.pr_revision), v3)
    assert _same(HubNet.from_pretrained(repo_id, revision=first.oid), v1)

    api = HubApi(token=hub.token)
    api.create_tag(repo_id, tag="v1.0", revision=first.oid)
    HubNet().push_to_hub(repo_id, token=hub.token)  # main moves on
    assert _same(HubNet.from_pretrained(repo_id, revision="v1.0"), v1)
    assert not _same(HubNet.from_pretrained(repo_id), v1)


def test_save_pretrained_with_push_to_hub(hub: Any, tmp_path: Path) -> None:
    repo_id = hub.new_repo_id()
    model = HubNet(width=4)
    commit = model.save_pretrained(tmp_path / "local", push_to_hub=True, repo_id=repo_id, token=hub.token)
    assert (tmp_path / "local" / "model.safetensors").is_file()
    assert commit.oid
    assert _same(HubNet.from_pretrained(repo_id), model)

    # without repo_id: the folder name, in the token's namespace (as upstream)
    name = hub.unique_name("folder")
    commit = model.save_pretrained(tmp_path / name, push_to_hub=True, token=hub.token)
    assert f"{hub.user}/{name}" in commit.commit_url
    assert _same(HubNet.from_pretrained(f"{hub.user}/{name}"), model)


def test_private_repo_needs_a_token(hub: Any) -> None:
    repo_id = hub.new_repo_id()
    model = HubNet()
    model.push_to_hub(repo_id, token=hub.token, private=True)
    with pytest.raises(RepositoryNotFoundError):
        HubNet.from_pretrained(repo_id)
    assert _same(HubNet.from_pretrained(repo_id, token=hub.read_token), model)
    with pytest.raises(RepositoryNotFoundError):
        ModelCard.load(repo_id)
    assert ModelCard.load(repo_id, token=hub.read_token).data.library_name == "hub-lib"


def test_cache_dir_force_download_and_local_files_only(hub: Any, tmp_path: Path) -> None:
    repo_id = hub.new_repo_id()
    model = HubNet(width=16)
    model.push_to_hub(repo_id, token=hub.token)
    cache = tmp_path / "my-cache"
    assert _same(HubNet.from_pretrained(repo_id, cache_dir=cache), model)
    folder = cache / f"models--{repo_id.replace('/', '--')}"
    weights = next(folder.glob("snapshots/*/model.safetensors"))

    # offline: served from the cache
    assert _same(HubNet.from_pretrained(repo_id, cache_dir=cache, local_files_only=True), model)

    # damage the cached weights: offline the load refuses them, naming the file; force_download repairs it
    blob = weights.resolve()
    blob.write_bytes(blob.read_bytes()[:100])
    with pytest.raises(CorruptedFileError, match="model.safetensors"):
        HubNet.from_pretrained(repo_id, cache_dir=cache, local_files_only=True)
    assert _same(HubNet.from_pretrained(repo_id, cache_dir=cache, force_download=True), model)

    # nothing cached for this cache dir: local_files_only cannot find the weights
    with pytest.raises(EntryNotFoundError):
        HubNet.from_pretrained(repo_id, cache_dir=tmp_path / "empty-cache", local_files_only=True)


def test_offline_env_uses_cache(hub: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    repo_id = hub.new_repo_id()
    model = HubNet()
    model.push_to_hub(repo_id, token=hub.token)
    HubNet.from_pretrained(repo_id)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert _same(HubNet.from_pretrained(repo_id), model)


def test_warm_cache_load_costs_one_request_and_offline_none(
    hub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelhub.client import http

    repo_id = hub.new_repo_id()
    model = HubNet(width=5)
    model.push_to_hub(repo_id, token=hub.token)
    HubNet.from_pretrained(repo_id)  # cold: fills the cache
    http.stats.reset()
    assert _same(HubNet.from_pretrained(repo_id), model)
    # config.json, model.safetensors and the probes for other weight files: one request resolves "main"
    assert http.stats.count == 1, http.stats
    model2 = HubNet(width=5)
    model2.push_to_hub(repo_id, token=hub.token)
    http.stats.reset()
    assert _same(HubNet.from_pretrained(repo_id), model2)  # a new commit is seen at once
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    http.stats.reset()
    assert _same(HubNet.from_pretrained(repo_id), model2)
    assert http.stats.count == 0, http.stats


def test_sharded_push_and_load(hub: Any) -> None:
    repo_id = hub.new_repo_id()
    model = HubNet(width=32, depth=4, tie=True)
    model.push_to_hub(repo_id, token=hub.token, max_shard_size="5KB")
    files = _files(hub, repo_id)
    shards = [f for f in files if f.startswith("model-")]
    assert len(shards) > 1 and "model.safetensors.index.json" in files and "model.safetensors" not in files
    loaded = HubNet.from_pretrained(repo_id, strict=True)
    assert _same(loaded, model) and loaded.head.weight is loaded.emb.weight


def test_patterns_and_delete_patterns(hub: Any) -> None:
    repo_id = hub.new_repo_id()
    api = HubApi(token=hub.token)
    api.create_repo(repo_id)
    api.upload_file(path_or_fileobj=b"old", path_in_repo="notes/old.txt", repo_id=repo_id)
    HubNet().push_to_hub(repo_id, token=hub.token, ignore_patterns=["README.md"], delete_patterns=["*.txt"])
    files = set(_files(hub, repo_id)) - {".gitattributes"}
    assert files == {"config.json", "model.safetensors"}  # README ignored, notes/old.txt deleted
    HubNet().push_to_hub(repo_id, token=hub.token, allow_patterns=["README.md"])
    assert "README.md" in _files(hub, repo_id)


def test_legacy_bin_in_repo(hub: Any, tmp_path: Path) -> None:
    repo_id = hub.new_repo_id()
    model = HubNet()
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    (tmp_path / "config.json").write_text(json.dumps({"width": 8}))
    api = HubApi(token=hub.token)
    api.create_repo(repo_id)
    api.upload_folder(repo_id=repo_id, folder_path=tmp_path)
    assert _same(HubNet.from_pretrained(repo_id), model)


def test_missing_repo_revision_and_weights(hub: Any) -> None:
    missing = f"{hub.user}/does-not-exist-{os.getpid()}"
    with pytest.raises(RepositoryNotFoundError) as info:
        HubNet.from_pretrained(missing)
    assert any("not a local directory either" in note for note in info.value.__notes__)
    repo_id = hub.new_repo_id()
    HubNet().push_to_hub(repo_id, token=hub.token)
    with pytest.raises(RevisionNotFoundError):
        HubNet.from_pretrained(repo_id, revision="no-such-branch")
    empty = hub.new_repo_id()
    HubApi(token=hub.token).create_repo(empty)
    with pytest.raises(EntryNotFoundError, match="No weights in repo"):
        HubNet.from_pretrained(empty)


def test_model_card_push_and_load_by_revision(hub: Any) -> None:
    repo_id = hub.new_repo_id()
    HubNet().push_to_hub(repo_id, token=hub.token)
    card = ModelCard.load(repo_id)
    card.data.license = "apache-2.0"
    card.text += "\nExtra section.\n"
    commit = card.push_to_hub(repo_id, token=hub.token, commit_message="card edit")
    again = ModelCard.load(repo_id, revision=commit.oid)
    assert again.data.license == "apache-2.0" and again.text.endswith("Extra section.\n")
    card.data.license = "mit"
    pr = card.push_to_hub(repo_id, token=hub.token, create_pr=True)
    assert pr.pr_revision and ModelCard.load(repo_id, revision=pr.pr_revision).data.license == "mit"
    assert ModelCard.load(repo_id).data.license == "apache-2.0"


class JsonHubModel(ModelHubMixin, library_name="json-lib"):
    """A framework-free integration that downloads its own file with modelhub.client.hub_download."""

    def __init__(self, factor: int = 1) -> None:
        self.factor = factor
        self.values: list[int] = []

    def _save_pretrained(self, save_directory: Path) -> None:
        (save_directory / "values.json").write_text(json.dumps(self.values))

    @classmethod
    def _from_pretrained(cls, *, model_id: str, revision: Any, cache_dir: Any, force_download: bool,
                         local_files_only: bool, token: Any, **model_kwargs: Any) -> Any:  # fmt: skip
        from modelhub.client import hub_download

        model = cls(**model_kwargs)
        path = hub_download(model_id, "values.json", revision=revision, cache_dir=cache_dir, token=token)
        model.values = json.loads(Path(path).read_text())
        return model


def test_generic_mixin_through_the_hub(hub: Any) -> None:
    repo_id = hub.new_repo_id()
    model = JsonHubModel(factor=3)
    model.values = [1, 2, 3]
    model.push_to_hub(repo_id, token=hub.token, config={"factor": 3, "note": "explicit"})
    loaded = JsonHubModel.from_pretrained(repo_id)
    assert loaded.factor == 3 and loaded.values == [1, 2, 3]
    # the explicit config went to the repo; the rebuilt instance records its own __init__ arguments (as upstream)
    from modelhub.client import hub_download

    assert json.loads(Path(hub_download(repo_id, "config.json")).read_text()) == {
        "factor": 3,
        "note": "explicit",
    }
    assert loaded._hub_mixin_config == {"factor": 3}


@pytest.mark.interop
def test_official_client_and_mixin_against_our_server(hub: Any) -> None:
    hf = pytest.importorskip("huggingface_hub")

    class Theirs(nn.Module, hf.PyTorchModelHubMixin):
        __init__ = _net_init

    ours_repo = hub.new_repo_id()
    model = HubNet(width=5, tie=True)
    model.push_to_hub(ours_repo, token=hub.token)
    theirs = Theirs.from_pretrained(ours_repo)
    assert _same(theirs, model)

    theirs_repo = hub.new_repo_id()
    Theirs(width=7).push_to_hub(theirs_repo, token=hub.token)
    ours = HubNet.from_pretrained(theirs_repo)
    assert ours.emb.embedding_dim == 7
    assert _same(ours, Theirs.from_pretrained(theirs_repo))


def test_push_replaces_the_weight_layout(hub: Any) -> None:
    """Single file -> shards -> single file: no stale weights file of the other layout survives to win a load."""
    repo_id = hub.new_repo_id()
    HubNet(width=32).push_to_hub(repo_id, token=hub.token)
    sharded = HubNet(width=32)
    sharded.push_to_hub(repo_id, token=hub.token, max_shard_size=4096)
    files = _files(hub, repo_id)
    assert "model.safetensors" not in files and "model.safetensors.index.json" in files
    assert len([f for f in files if f.startswith("model-0")]) > 1
    assert _same(HubNet.from_pretrained(repo_id), sharded)

    single = HubNet(width=32)
    single.push_to_hub(repo_id, token=hub.token, delete_patterns="nothing-matches")
    files = _files(hub, repo_id)
    assert "model.safetensors" in files and not [f for f in files if f.startswith("model-0") or "index" in f]
    assert _same(HubNet.from_pretrained(repo_id), single)

    # Only the card: the weights on the hub stay as they are.
    single.push_to_hub(repo_id, token=hub.token, allow_patterns=["README.md"], max_shard_size=4096)
    assert "model.safetensors" in _files(hub, repo_id)


@pytest.mark.parametrize("how", DAMAGES)
@pytest.mark.parametrize("sharded", [False, True])
def test_damaged_cache_heals(hub: Any, how: str, sharded: bool, caplog: Any, monkeypatch: Any) -> None:
    """Fresh cache, load once, damage the weights' blob: the next load heals it (one warning) and never hands
    the damaged file to torch; offline the error names the file."""

    repo_id = hub.new_repo_id()
    model = HubNet(width=32)
    model.push_to_hub(repo_id, token=hub.token, max_shard_size="8KB" if sharded else "5GB")
    filename = "model-00001-of-00002.safetensors" if sharded else "model.safetensors"
    assert _same(HubNet.from_pretrained(repo_id), model)
    check_heals(
        lambda: HubNet.from_pretrained(repo_id),
        lambda loaded: None if _same(loaded, model) else pytest.fail("wrong weights"),
        repo_id,
        filename,
        how,
        caplog,
        monkeypatch,
    )


@pytest.mark.parametrize("how", ["truncate", "bitflip"])
def test_damaged_cache_heals_without_symlinks(hub: Any, how: str, caplog: Any, monkeypatch: Any) -> None:
    """The same with snapshot files that are copies (HF_HUB_DISABLE_SYMLINKS; Windows without developer mode)."""
    monkeypatch.setenv("HF_HUB_DISABLE_SYMLINKS", "1")
    repo_id = hub.new_repo_id()
    model = HubNet(width=32)
    model.push_to_hub(repo_id, token=hub.token)
    assert _same(HubNet.from_pretrained(repo_id), model)
    check_heals(
        lambda: HubNet.from_pretrained(repo_id),
        lambda loaded: None if _same(loaded, model) else pytest.fail("wrong weights"),
        repo_id,
        "model.safetensors",
        how,
        caplog,
        monkeypatch,
    )


def test_single_segment_ids(hub: Any, monkeypatch: Any) -> None:
    """`MyModel.from_pretrained("gpt2")`-style ids, against a stand-in hub that serves them; the modelhub hub
    itself answers them with a clear 404."""
    from .._bare_hub import bare_id_hub

    repo_id = hub.new_repo_id("bare")
    model = HubNet(width=12)
    model.push_to_hub(repo_id, token=hub.token)
    name = repo_id.split("/")[1]
    with pytest.raises(RepositoryNotFoundError, match="have a namespace"):
        HubNet.from_pretrained(name)
    with bare_id_hub(hub, monkeypatch) as standin:
        standin.serve(name)
        assert _same(HubNet.from_pretrained(name), model)
        assert _same(HubNet.from_pretrained(name, revision="main", force_download=True), model)
        other = HubNet(width=12)
        other.push_to_hub(name, token=hub.token)  # push by the bare id too
        assert _same(HubNet.from_pretrained(name), other)
        assert ModelCard.load(name).data.library_name == "hub-lib"


def test_from_pretrained_at_a_resolved_revision(hub: Any) -> None:
    """upstream's ``resolve_revision``: a load at the ResolvedRevision reads the commit it was resolved to."""
    from modelhub import resolve_revision

    repo_id = hub.new_repo_id("resolved")
    first = HubNet(width=8)
    first.push_to_hub(repo_id, token=hub.token)
    revision = resolve_revision(repo_id, token=hub.token)
    second = HubNet(width=8)
    second.push_to_hub(repo_id, token=hub.token)
    assert _same(HubNet.from_pretrained(repo_id, revision=revision), first)
    assert _same(HubNet.from_pretrained(repo_id), second)
