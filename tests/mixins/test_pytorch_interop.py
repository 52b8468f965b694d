"""Interop with the official huggingface_hub (a test oracle only): their files load with ours and ours with theirs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
hf = pytest.importorskip("huggingface_hub")
nn = torch.nn

import modelhub  # noqa: E402
from modelhub.serialization import load_torch_model, save_torch_state_dict, split_torch_state_dict_into_shards  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.interop]


def _init(self: Any, width: int = 8, depth: int = 2, tie: bool = False, label: str = "x") -> None:
    nn.Module.__init__(self)
    self.emb = nn.Embedding(10, width)
    self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))
    self.head = nn.Linear(width, 10, bias=False)
    if tie:
        self.head.weight = self.emb.weight
    self.register_buffer("running", torch.arange(width, dtype=torch.float32))


Ours = type("Ours", (nn.Module, modelhub.PyTorchModelHubMixin), {"__init__": _init})
Theirs = type("Theirs", (nn.Module, hf.PyTorchModelHubMixin), {"__init__": _init})


def _assert_same(a: Any, b: Any) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


@pytest.mark.parametrize("tie", [False, True])
def test_official_save_loads_with_ours(tmp_path: Path, tie: bool) -> None:
    theirs = Theirs(width=6, depth=3, tie=tie, label="y")
    theirs.save_pretrained(tmp_path)
    ours = Ours.from_pretrained(tmp_path, strict=True)
    _assert_same(theirs, ours)
    assert (
        ours._hub_mixin_config
        == theirs._hub_mixin_config
        == {"width": 6, "depth": 3, "tie": tie, "label": "y"}
    )
    assert len(ours.layers) == 3 and not ours.training
    if tie:
        assert ours.head.weight is ours.emb.weight


@pytest.mark.parametrize("tie", [False, True])
def test_our_save_loads_with_official(tmp_path: Path, tie: bool) -> None:
    ours = Ours(width=6, depth=3, tie=tie)
    ours.save_pretrained(tmp_path)
    theirs = Theirs.from_pretrained(tmp_path, strict=True)
    _assert_same(ours, theirs)
    assert theirs._hub_mixin_config == ours._hub_mixin_config
    assert json.loads((tmp_path / "config.json").read_text()) == ours._hub_mixin_config


def test_config_json_byte_identical_to_official(tmp_path: Path) -> None:
    Ours(width=4, label="z").save_pretrained(tmp_path / "ours")
    Theirs(width=4, label="z").save_pretrained(tmp_path / "theirs")
    assert (tmp_path / "ours" / "config.json").read_bytes() == (
        tmp_path / "theirs" / "config.json"
    ).read_bytes()


def test_official_sharded_state_dict_loads_with_ours(tmp_path: Path) -> None:
    reference = Ours(width=32, depth=4)
    hf.save_torch_state_dict(reference.state_dict(), tmp_path, max_shard_size=3000)
    (tmp_path / "config.json").write_text(json.dumps({"width": 32, "depth": 4}))
    assert (tmp_path / "model.safetensors.index.json").is_file()
    _assert_same(reference, Ours.from_pretrained(tmp_path, strict=True))
    fresh = Ours(width=32, depth=4)
    load_torch_model(fresh, tmp_path, strict=True)
    _assert_same(reference, fresh)


def test_our_sharded_save_loads_with_official_and_transformers(tmp_path: Path) -> None:
    from transformers.utils.hub import get_checkpoint_shard_files

    reference = Ours(width=32, depth=4, tie=True)
    reference.save_pretrained(tmp_path, max_shard_size=3000)
    index = tmp_path / "model.safetensors.index.json"
    fresh = Ours(width=32, depth=4, tie=True)
    result = hf.load_torch_model(fresh, tmp_path, strict=False)
    assert result.unexpected_keys == []
    _assert_same(reference, fresh)

    files, metadata = get_checkpoint_shard_files(str(tmp_path), str(index))
    assert len(files) > 1 and all(Path(f).is_file() for f in files)
    assert metadata["total_size"] == json.loads(index.read_text())["metadata"]["total_size"]
    assert set(metadata["all_checkpoint_keys"]) == set(reference.state_dict()) - {"head.weight"}


def test_shard_plan_matches_official() -> None:
    model = Ours(width=16, depth=6, tie=True)
    state = model.state_dict()
    for limit in (500, 2000, "3KB", 10**9):
        ours = split_torch_state_dict_into_shards(state, max_shard_size=limit)
        theirs = hf.split_torch_state_dict_into_shards(state, max_shard_size=limit)
        assert ours.filename_to_tensors == theirs.filename_to_tensors
        assert ours.metadata == theirs.metadata


def test_our_state_dict_files_load_with_official_loader(tmp_path: Path) -> None:
    state = {"a": torch.randn(3, 4), "b": torch.arange(5), "c": torch.tensor([1.0], dtype=torch.bfloat16)}
    save_torch_state_dict(state, tmp_path)
    loaded = hf.load_state_dict_from_file(tmp_path / "model.safetensors")
    assert loaded.keys() == state.keys() and all(torch.equal(loaded[k], state[k]) for k in state)


def test_model_cards_cross_read(tmp_path: Path) -> None:
    class CardOurs(nn.Module, modelhub.PyTorchModelHubMixin, library_name="lib", tags=["t"], license="mit"):
        pass

    class CardTheirs(nn.Module, hf.PyTorchModelHubMixin, library_name="lib", tags=["t"], license="mit"):
        pass

    CardOurs().save_pretrained(tmp_path / "ours")
    CardTheirs().save_pretrained(tmp_path / "theirs")
    theirs_reads_ours = hf.ModelCard.load(tmp_path / "ours" / "README.md")
    ours_reads_theirs = modelhub.ModelCard.load(tmp_path / "theirs" / "README.md")
    expected = {
        "library_name": "lib",
        "license": "mit",
        "tags": ["model_hub_mixin", "pytorch_model_hub_mixin", "t"],
    }
    assert theirs_reads_ours.data.to_dict() == expected
    assert ours_reads_theirs.data.to_dict() == expected
