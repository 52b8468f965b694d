"""modelhub.serialization: shard planning, storage identity, save/load functions and our safetensors I/O."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from modelhub.errors import CorruptedCheckpointError  # noqa: E402
from modelhub.serialization import (  # noqa: E402
    get_torch_storage_id,
    get_torch_storage_size,
    load_state_dict_from_file,
    load_torch_model,
    parse_size_to_int,
    save_torch_model,
    save_torch_state_dict,
    split_state_dict_into_shards_factory,
    split_torch_state_dict_into_shards,
)

pytestmark = pytest.mark.torch


def test_parse_size() -> None:
    assert parse_size_to_int("5GB") == 5 * 10**9
    assert parse_size_to_int(" 1.5 mb") == 1_500_000
    assert parse_size_to_int("10KB") == 10_000
    with pytest.raises(ValueError, match="'5 GiB'"):
        parse_size_to_int("5 GiB")


def test_split_factory_greedy_in_key_order() -> None:
    sizes = {"a": 6, "b": 6, "c": 2, "d": 6, "e": 2, "f": 2, "big": 30}
    split = split_state_dict_into_shards_factory(
        sizes, get_storage_size=lambda v: v, filename_pattern="m{suffix}.bin", max_shard_size=10
    )
    assert split.is_sharded
    # an oversized tensor gets its own shard right away (same order as the official implementation)
    assert list(split.filename_to_tensors.values()) == [["a"], ["b", "c"], ["big"], ["d", "e", "f"]]
    assert split.metadata == {"total_size": 54}
    assert split.tensor_to_filename["big"] == "m-00003-of-00004.bin"


def test_split_single_file_and_bad_pattern() -> None:
    split = split_state_dict_into_shards_factory(
        {"a": 1}, get_storage_size=lambda v: v, filename_pattern="x{suffix}.st"
    )
    assert not split.is_sharded and split.filename_to_tensors == {"x.st": ["a"]}
    with pytest.raises(ValueError, match="suffix"):
        split_state_dict_into_shards_factory({"a": 1}, get_storage_size=lambda v: v, filename_pattern="x.st")


def test_storage_id_and_size() -> None:
    base = torch.zeros(10)
    view = base[2:5]
    other = torch.zeros(10)
    assert get_torch_storage_id(base) == get_torch_storage_id(view)
    assert get_torch_storage_id(base) != get_torch_storage_id(other)
    assert get_torch_storage_size(view) == 40
    assert get_torch_storage_id(torch.empty(3, device="meta")) is None


def test_split_keeps_shared_tensors_together() -> None:
    a = torch.zeros(100)
    state = {"a": a, "b": torch.zeros(100), "tied": a}
    split = split_torch_state_dict_into_shards(state, max_shard_size=450)
    assert split.tensor_to_filename["tied"] == split.tensor_to_filename["a"]
    assert split.metadata["total_size"] == 800  # the shared storage counted once


def test_save_state_dict_sharded_format(tmp_path: Path) -> None:
    state = {f"layer{i}.weight": torch.full((64,), float(i)) for i in range(6)}
    save_torch_state_dict(state, tmp_path, max_shard_size=600, metadata={"note": "x"})
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    assert index["metadata"] == {"total_size": 6 * 256, "note": "x"}
    assert set(index["weight_map"]) == set(state)
    for name in set(index["weight_map"].values()):
        assert (tmp_path / name).is_file()
    loaded = {}
    for name in set(index["weight_map"].values()):
        loaded.update(load_state_dict_from_file(tmp_path / name))
    assert all(torch.equal(loaded[k], state[k]) for k in state)


def test_save_cleans_only_its_own_stale_files(tmp_path: Path) -> None:
    (tmp_path / "model-00001-of-00009.safetensors").write_bytes(b"old")
    (tmp_path / "model.safetensors.index.json").write_text("{}")
    (tmp_path / "model.safetensors.backup").write_bytes(b"keep")
    (tmp_path / "other.bin").write_bytes(b"keep")
    save_torch_state_dict({"w": torch.ones(2)}, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "model.safetensors",
        "model.safetensors.backup",
        "other.bin",
    ]


def test_pickle_serialization(tmp_path: Path) -> None:
    state = {"w": torch.arange(4.0)}
    save_torch_state_dict(state, tmp_path, safe_serialization=False)
    assert (tmp_path / "pytorch_model.bin").is_file()
    with pytest.raises(CorruptedCheckpointError, match="safe=False"):
        load_state_dict_from_file(tmp_path / "pytorch_model.bin")
    assert torch.equal(load_state_dict_from_file(tmp_path / "pytorch_model.bin", safe=False)["w"], state["w"])


@pytest.mark.parametrize(
    "tensor",
    [
        torch.arange(6, dtype=torch.float32).reshape(2, 3),
        torch.arange(6, dtype=torch.float64),
        torch.tensor([1.5, -2.0], dtype=torch.bfloat16),
        torch.tensor([1.5, -2.0], dtype=torch.float16),
        torch.tensor([True, False, True]),
        torch.tensor([1, -2, 3], dtype=torch.int8),
        torch.tensor([1, 2], dtype=torch.int64),
        torch.tensor(3.25),
        torch.empty(0, 4),
        torch.arange(12.0).reshape(3, 4).t(),  # non-contiguous
    ],
)
def test_our_files_read_by_safetensors_and_back(tmp_path: Path, tensor: torch.Tensor) -> None:
    from safetensors.torch import load_file, save_file

    state = {"x": tensor, "pad": torch.tensor([1], dtype=torch.uint8)}
    save_torch_state_dict(state, tmp_path)
    theirs = load_file(tmp_path / "model.safetensors")
    assert torch.equal(theirs["x"], tensor) and theirs["x"].dtype == tensor.dtype
    save_file({k: v.contiguous() for k, v in state.items()}, tmp_path / "theirs.safetensors")
    ours = load_state_dict_from_file(tmp_path / "theirs.safetensors")
    assert torch.equal(ours["x"], tensor) and ours["x"].dtype == tensor.dtype


def test_shared_tensors_metadata_and_discard(tmp_path: Path) -> None:
    a = torch.ones(3)
    save_torch_state_dict({"a": a, "b": a}, tmp_path, shared_tensors_to_discard=["a"])
    from safetensors import safe_open

    with safe_open(str(tmp_path / "model.safetensors"), framework="pt") as f:
        assert list(f.keys()) == ["b"] and f.metadata()["a"] == "b"


def test_non_overlapping_views_saved_separately(tmp_path: Path) -> None:
    fused = torch.arange(8.0)
    save_torch_state_dict({"q": fused[:4], "k": fused[4:]}, tmp_path)
    loaded = load_state_dict_from_file(tmp_path / "model.safetensors")
    assert torch.equal(loaded["q"], fused[:4]) and torch.equal(loaded["k"], fused[4:])


class Small(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 2)


def test_save_and_load_torch_model_sharded(tmp_path: Path) -> None:
    model = Small()
    save_torch_model(model, tmp_path, max_shard_size=50)
    assert (tmp_path / "model.safetensors.index.json").is_file()
    fresh = Small()
    result = load_torch_model(fresh, tmp_path, strict=True)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert str(result) == "<All keys matched successfully>"
    assert all(torch.equal(fresh.state_dict()[k], v) for k, v in model.state_dict().items())


def test_load_torch_model_reports_keys_and_strict_changes_nothing(tmp_path: Path) -> None:
    state = Small().state_dict()
    state["surplus"] = torch.zeros(1)
    del state["b.bias"]
    save_torch_state_dict(state, tmp_path)
    target = Small()
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(RuntimeError, match='Missing key.*"b.bias".*\n.*Unexpected key.*"surplus"'):
        load_torch_model(target, tmp_path / "model.safetensors", strict=True)
    assert all(torch.equal(before[k], v) for k, v in target.state_dict().items())
    result = load_torch_model(target, tmp_path)
    assert result.missing_keys == ["b.bias"] and result.unexpected_keys == ["surplus"]
    assert torch.equal(target.a.weight, state["a.weight"])


def test_load_torch_model_pickle_directory_needs_safe_false(tmp_path: Path) -> None:
    model = Small()
    save_torch_model(model, tmp_path, safe_serialization=False)
    with pytest.raises(ValueError, match="no checkpoint"):
        load_torch_model(Small(), tmp_path)
    fresh = Small()
    load_torch_model(fresh, tmp_path, safe=False)
    assert torch.equal(fresh.a.weight, model.a.weight)
    with pytest.raises(ValueError, match="safe=True"):
        load_torch_model(Small(), tmp_path, filename_pattern="pytorch_model{suffix}.bin")


@pytest.mark.parametrize(
    "shard", ["../evil.safetensors", "/abs/evil.safetensors", "C:\\evil.safetensors", "x.bin"]
)
def test_index_with_bad_shard_names_is_rejected(tmp_path: Path, shard: str) -> None:
    (tmp_path / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": {"w": shard}})
    )
    with pytest.raises(CorruptedCheckpointError, match="shard"):
        load_torch_model(Small(), tmp_path)


def test_index_not_json(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors.index.json").write_text("{")
    with pytest.raises(CorruptedCheckpointError, match="not valid JSON"):
        load_torch_model(Small(), tmp_path)


def test_missing_checkpoint_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_torch_model(Small(), tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="No checkpoint file"):
        load_state_dict_from_file(tmp_path / "nope.safetensors")


def test_foreign_format_metadata_rejected(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    save_file({"w": torch.ones(1)}, tmp_path / "tf.safetensors", metadata={"format": "tf"})
    with pytest.raises(OSError, match="format 'tf'"):
        load_state_dict_from_file(tmp_path / "tf.safetensors")


def test_header_entry_validation(tmp_path: Path) -> None:
    header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}}).encode()
    path = tmp_path / "bad.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 8)
    with pytest.raises(CorruptedCheckpointError, match="needs 16"):
        load_state_dict_from_file(path)
    header = json.dumps({"w": {"dtype": "F99", "shape": [1], "data_offsets": [0, 4]}}).encode()
    path.write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 4)
    with pytest.raises(CorruptedCheckpointError, match="unsupported dtype 'F99'"):
        load_state_dict_from_file(path)


def test_map_location_meta_stays_on_cpu_with_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    save_torch_state_dict({"w": torch.ones(2)}, tmp_path)
    loaded = load_state_dict_from_file(tmp_path / "model.safetensors", map_location="meta")
    assert loaded["w"].device.type == "cpu"
    assert "meta" in caplog.text


def test_empty_tensors_are_not_mistaken_for_ties(tmp_path: Path) -> None:
    class Empties(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("a", torch.empty(0))
            self.register_buffer("b", torch.empty(0))

    save_torch_state_dict({"b": torch.empty(0)}, tmp_path)
    result = load_torch_model(Empties(), tmp_path)
    assert result.missing_keys == ["a"]


@pytest.mark.interop
def test_dtensor_storage_id_and_size_match_upstream() -> None:
    """A DTensor is identified by its local shard's storage and sized as the full tensor, as upstream does."""
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import Replicate, distribute_tensor

    hf_torch = pytest.importorskip("huggingface_hub.serialization._torch")
    started = not dist.is_initialized()
    if started:
        dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        mesh = init_device_mesh("cpu", (1,))
        full = torch.arange(24, dtype=torch.float32).reshape(4, 6)
        dt = distribute_tensor(full, mesh, [Replicate()])
        ours = get_torch_storage_id(dt)
        assert ours == hf_torch.get_torch_storage_id(dt)
        assert ours is not None and ours[2] == full.nbytes == get_torch_storage_size(dt)
        assert ours[1] == dt.to_local().untyped_storage().data_ptr()
        assert get_torch_storage_id(distribute_tensor(full.clone(), mesh, [Replicate()])) != ours
    finally:
        if started:
            dist.destroy_process_group()
