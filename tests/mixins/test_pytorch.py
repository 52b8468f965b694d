"""PyTorchModelHubMixin, locally: safetensors layout, lean loading semantics, ties, wrappers, shards, bad files."""

from __future__ import annotations

import json
import logging
import pickle
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from modelhub import ModelCard, PyTorchModelHubMixin  # noqa: E402
from modelhub.errors import CorruptedCheckpointError  # noqa: E402

pytestmark = pytest.mark.torch


class Net(nn.Module, PyTorchModelHubMixin, library_name="test-lib", tags=["unit"]):
    constructed = 0

    def __init__(self, width: int = 8, classes: int = 3, tie: bool = False, extra: bool = False) -> None:
        super().__init__()
        type(self).constructed += 1
        self.emb = nn.Embedding(classes, width)
        self.body = nn.Sequential(nn.Linear(width, width), nn.LayerNorm(width), nn.Dropout(0.1))
        self.head = nn.Linear(width, classes, bias=False)
        if tie:
            self.head.weight = self.emb.weight
        if extra:
            self.extra = nn.Linear(width, width)
        self.register_buffer("scale", torch.full((width,), 2.0))
        self.register_buffer("table", nn.init.constant_(torch.empty(4), 7.0), persistent=False)

    def forward(self, ids: Any) -> Any:
        return self.head(self.body(self.emb(ids)) * self.scale)


def _same_state(a: Any, b: Any) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_save_layout_and_card(tmp_path: Path) -> None:
    from safetensors import safe_open

    Net(width=6).save_pretrained(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    assert json.loads((tmp_path / "config.json").read_text()) == {
        "classes": 3,
        "extra": False,
        "tie": False,
        "width": 6,
    }
    card = ModelCard.load(tmp_path / "README.md")
    assert card.data.tags == ["model_hub_mixin", "pytorch_model_hub_mixin", "unit"]
    assert card.data.library_name == "test-lib"
    with safe_open(str(tmp_path / "model.safetensors"), framework="pt") as f:
        assert f.metadata() == {"format": "pt"}
        assert set(f.keys()) == {
            "emb.weight",
            "body.0.weight",
            "body.0.bias",
            "body.1.weight",
            "body.1.bias",
            "head.weight",
            "scale",
        }


def test_round_trip_eval_mode_and_config(tmp_path: Path) -> None:
    model = Net(width=5, classes=4)
    with torch.no_grad():
        model.scale.fill_(3.0)
    model.save_pretrained(tmp_path)
    loaded = Net.from_pretrained(tmp_path)
    assert isinstance(loaded, Net)
    assert not loaded.training and not loaded.body[2].training
    assert loaded.emb.num_embeddings == 4
    assert _same_state(model, loaded)
    assert torch.equal(loaded.table, torch.full((4,), 7.0))  # non-persistent buffer built by __init__
    ids = torch.tensor([0, 3, 1])
    assert torch.equal(model.eval()(ids), loaded(ids))


def test_lean_load_skips_parameter_init(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Net().save_pretrained(tmp_path)
    calls: list[str] = []
    original = torch.nn.init.kaiming_uniform_

    def counting(tensor: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(type(tensor).__name__)
        return original(tensor, *args, **kwargs)

    monkeypatch.setattr(torch.nn.init, "kaiming_uniform_", counting)
    Net.from_pretrained(tmp_path)
    assert calls == []  # the Linear weights were not randomly initialised: the checkpoint fills them
    Net(tie=True).save_pretrained(tmp_path / "tied")
    calls.clear()
    Net.from_pretrained(tmp_path / "tied")
    assert calls == []  # the head weight replaced by the tie is dropped, not a reason to initialise
    Net()
    assert "Parameter" in calls  # outside from_pretrained, init runs as usual
    assert torch.nn.init.kaiming_uniform_ is counting  # and our wrapper is gone


def test_missing_keys_keep_initialised_values(tmp_path: Path) -> None:
    Net().save_pretrained(tmp_path)  # no `extra` layer in the checkpoint
    torch.manual_seed(123)
    reference = Net(extra=True)
    torch.manual_seed(123)
    loaded = Net.from_pretrained(tmp_path, extra=True)
    assert torch.equal(loaded.extra.weight, reference.extra.weight)
    assert torch.equal(loaded.extra.bias, reference.extra.bias)
    assert torch.isfinite(loaded.extra.weight).all()


def test_strict_reports_missing_and_unexpected(tmp_path: Path) -> None:
    Net(extra=True).save_pretrained(tmp_path / "with_extra")
    Net().save_pretrained(tmp_path / "plain")
    with pytest.raises(
        RuntimeError, match=r'Unexpected key\(s\) in state_dict: "extra.bias", "extra.weight"'
    ):
        Net.from_pretrained(tmp_path / "with_extra", extra=False, strict=True)
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "extra.weight", "extra.bias"'):
        Net.from_pretrained(tmp_path / "plain", extra=True, strict=True)
    # strict=False: unexpected keys are ignored
    loaded = Net.from_pretrained(tmp_path / "with_extra", extra=False)
    assert not hasattr(loaded, "extra")


def test_shape_mismatch_is_an_error(tmp_path: Path) -> None:
    Net(width=4).save_pretrained(tmp_path)
    with pytest.raises(RuntimeError, match="size mismatch for emb.weight"):
        Net.from_pretrained(tmp_path, width=6)


def test_map_location(tmp_path: Path) -> None:
    Net().save_pretrained(tmp_path)
    assert Net.from_pretrained(tmp_path, map_location=torch.device("cpu")).head.weight.device.type == "cpu"
    on_meta = Net.from_pretrained(tmp_path, map_location="meta")
    assert {p.device.type for p in on_meta.parameters()} == {"meta"}


def test_tied_weights_saved_once_and_restored_tied(tmp_path: Path) -> None:
    from safetensors import safe_open

    model = Net(tie=True)
    model.save_pretrained(tmp_path)
    with safe_open(str(tmp_path / "model.safetensors"), framework="pt") as f:
        keys, metadata = set(f.keys()), f.metadata()
    assert "emb.weight" in keys and "head.weight" not in keys
    assert metadata["head.weight"] == "emb.weight"
    loaded = Net.from_pretrained(tmp_path, tie=True)
    assert loaded.head.weight is loaded.emb.weight
    assert torch.equal(loaded.head.weight, model.emb.weight)


class Inner(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(3, 3)


class Wrapped(nn.Module, PyTorchModelHubMixin):
    """DataParallel-style: every weight lives under `self.module`."""

    def __init__(self) -> None:
        super().__init__()
        self.module = Inner()


class Unwrapped(Inner, PyTorchModelHubMixin):
    pass


def test_wrapped_module_saved_unwrapped(tmp_path: Path) -> None:
    from safetensors import safe_open

    model = Wrapped()
    model.save_pretrained(tmp_path)
    with safe_open(str(tmp_path / "model.safetensors"), framework="pt") as f:
        assert set(f.keys()) == {"layer.weight", "layer.bias"}
    assert torch.equal(
        Wrapped.from_pretrained(tmp_path, strict=True).module.layer.weight, model.module.layer.weight
    )
    assert torch.equal(
        Unwrapped.from_pretrained(tmp_path, strict=True).layer.weight, model.module.layer.weight
    )


def test_submodule_named_module_is_not_mistaken_for_a_wrapper(tmp_path: Path) -> None:
    class HasModule(nn.Module, PyTorchModelHubMixin):
        def __init__(self) -> None:
            super().__init__()
            self.module = nn.Linear(2, 2)
            self.other = nn.Linear(2, 2)

    model = HasModule()
    model.save_pretrained(tmp_path)
    assert _same_state(HasModule.from_pretrained(tmp_path, strict=True), model)


def test_legacy_pytorch_model_bin(tmp_path: Path) -> None:
    model = Net()
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    (tmp_path / "config.json").write_text(json.dumps({"width": 8}))
    assert _same_state(Net.from_pretrained(tmp_path), model)


class Evil:
    def __reduce__(self) -> Any:
        return (print, ("pwned",))


def test_legacy_bin_refuses_arbitrary_pickles(tmp_path: Path) -> None:
    torch.save({"emb.weight": Evil()}, tmp_path / "pytorch_model.bin")
    with pytest.raises(pickle.UnpicklingError):
        Net.from_pretrained(tmp_path)


def test_sharded_save_and_load(tmp_path: Path) -> None:
    model = Net(width=32, classes=16)
    model.save_pretrained(tmp_path, max_shard_size=2000)
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    shards = sorted(p.name for p in tmp_path.glob("model-*.safetensors"))
    assert len(shards) > 1 and shards[0] == f"model-00001-of-{len(shards):05d}.safetensors"
    assert not (tmp_path / "model.safetensors").exists()
    assert set(index["weight_map"]) == set(model.state_dict())
    assert set(index["weight_map"].values()) == set(shards)
    assert index["metadata"]["total_size"] == sum(
        t.numel() * t.element_size() for t in model.state_dict().values()
    )
    assert _same_state(Net.from_pretrained(tmp_path, width=32, classes=16, strict=True), model)

    # saving again unsharded removes the stale shards and index
    model.save_pretrained(tmp_path)
    assert sorted(p.name for p in tmp_path.glob("model*")) == ["model.safetensors"]
    assert _same_state(Net.from_pretrained(tmp_path), model)


def test_sharded_with_tied_weights(tmp_path: Path) -> None:
    model = Net(width=32, classes=16, tie=True)
    model.save_pretrained(tmp_path, max_shard_size="1KB")
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    assert "head.weight" not in index["weight_map"] and index["metadata"]["head.weight"] == "emb.weight"
    loaded = Net.from_pretrained(tmp_path, width=32, classes=16, tie=True, strict=True)
    assert loaded.head.weight is loaded.emb.weight and _same_state(loaded, model)


def test_missing_shard_is_clear(tmp_path: Path) -> None:
    Net(width=32).save_pretrained(tmp_path, max_shard_size=2000)
    next(tmp_path.glob("model-00002-*.safetensors")).unlink()
    with pytest.raises(FileNotFoundError, match="model-00002"):
        Net.from_pretrained(tmp_path, width=32)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "header_lies", "empty"])
def test_corrupt_safetensors_fails_before_building(tmp_path: Path, damage: str) -> None:
    Net().save_pretrained(tmp_path)
    path = tmp_path / "model.safetensors"
    raw = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(raw[: len(raw) - 10])
    elif damage == "garbage":
        path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!" + raw[24:])
    elif damage == "header_lies":
        path.write_bytes((10**12).to_bytes(8, "little") + raw[8:])
    else:
        path.write_bytes(b"")
    before = Net.constructed
    with pytest.raises(CorruptedCheckpointError, match="model.safetensors"):
        Net.from_pretrained(tmp_path)
    assert Net.constructed == before  # nothing built, nothing half-loaded


def test_no_weights_at_all(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="No weights in directory"):
        Net.from_pretrained(tmp_path)


def test_dtypes_round_trip_and_cast(tmp_path: Path) -> None:
    model = Net().to(torch.bfloat16)
    model.save_pretrained(tmp_path)
    loaded = Net.from_pretrained(
        tmp_path
    )  # model built in float32: values are cast like load_state_dict does
    assert loaded.emb.weight.dtype == torch.float32
    assert torch.equal(loaded.emb.weight, model.emb.weight.float())


def test_modules_with_load_hooks_go_through_load_state_dict(tmp_path: Path) -> None:
    class Hooked(nn.Module, PyTorchModelHubMixin):
        def __init__(self) -> None:
            super().__init__()
            self.layer = nn.Linear(2, 2)
            self.seen: list[str] = []
            self.register_load_state_dict_post_hook(lambda module, keys: module.seen.append("post"))

    model = Hooked()
    model.save_pretrained(tmp_path)
    loaded = Hooked.from_pretrained(tmp_path)
    assert loaded.seen == ["post"]
    assert torch.equal(loaded.layer.weight, model.layer.weight)


def test_upstream_style_integration_overrides(tmp_path: Path) -> None:
    """A subclass written against huggingface_hub that customises both hooks keeps working."""

    class Custom(nn.Module, PyTorchModelHubMixin):
        def __init__(self, n: int = 2) -> None:
            super().__init__()
            self.layer = nn.Linear(n, n)

        def _save_pretrained(self, save_directory: Path) -> None:
            super()._save_pretrained(save_directory)
            (save_directory / "extra.txt").write_text("hello")

        @classmethod
        def _from_pretrained(cls, *, model_id: str, revision: Any, cache_dir: Any, force_download: bool,
                             proxies: Any, resume_download: Any, local_files_only: bool, token: Any,
                             map_location: str = "cpu", strict: bool = False, **model_kwargs: Any) -> Any:  # fmt: skip
            model = cls(**model_kwargs)
            model = cls._load_as_safetensor(
                model, str(Path(model_id) / "model.safetensors"), map_location, strict
            )
            model.note = (Path(model_id) / "extra.txt").read_text()
            return model

    model = Custom(n=3)
    model.save_pretrained(tmp_path)
    loaded = Custom.from_pretrained(tmp_path)
    assert loaded.note == "hello" and not loaded.training
    assert torch.equal(loaded.layer.weight, model.layer.weight)


def test_missing_key_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    Net().save_pretrained(tmp_path)
    with caplog.at_level(logging.WARNING, logger="modelhub"):
        Net.from_pretrained(tmp_path, extra=True)
    assert "extra.weight" in caplog.text


def test_parameter_kept_outside_the_model_forces_normal_init(tmp_path: Path) -> None:
    """A parameter initialised in __init__ but held outside the module tree cannot be filled by the checkpoint:
    the model must be built with full initialisation (tied-away parameters, which die, do not count)."""

    class Holder(nn.Module, PyTorchModelHubMixin):
        def __init__(self) -> None:
            super().__init__()
            self.layer = nn.Linear(2, 2)
            self.side = [nn.init.constant_(nn.Parameter(torch.empty(3)), 5.0)]

    Holder().save_pretrained(tmp_path)
    loaded = Holder.from_pretrained(tmp_path, strict=True)
    assert torch.equal(loaded.side[0].detach(), torch.full((3,), 5.0))


def test_init_skipping_is_confined_to_its_thread() -> None:
    import threading

    from modelhub.mixins._torch_init import skip_parameter_init

    inside, release = threading.Event(), threading.Event()
    skipped_counts: list[int] = []

    def lean_build() -> None:
        with skip_parameter_init() as skipped:
            layer = nn.Linear(4, 4)
            inside.set()
            release.wait(timeout=30)
            skipped_counts.append(len(skipped))
            assert layer.weight in skipped

    worker = threading.Thread(target=lean_build)
    worker.start()
    try:
        assert inside.wait(timeout=30)
        param = nn.Parameter(torch.empty(5))
        torch.nn.init.constant_(param, 3.0)  # another thread's block must not skip this one
        assert torch.equal(param.detach(), torch.full((5,), 3.0))
    finally:
        release.set()
        worker.join()
    assert skipped_counts[0] >= 1  # the worker's Linear weight was skipped
    assert not hasattr(torch.nn.init.constant_, "__modelhub_original__")  # unwrapped after the last block


def test_upstream_helper_load_as_pickle(tmp_path: Path) -> None:
    """``_load_as_pickle`` (called by integrations written for huggingface_hub): weights_only, eval mode, strict."""
    model = Net(tie=True)
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    target = Net(tie=True).train()
    loaded = Net._load_as_pickle(target, str(tmp_path / "pytorch_model.bin"), "cpu", True)
    assert loaded is target and not loaded.training and _same_state(loaded, model)
    assert loaded.head.weight is loaded.emb.weight

    torch.save({"emb.weight": Evil()}, tmp_path / "evil.bin")
    with pytest.raises(pickle.UnpicklingError):
        Net._load_as_pickle(Net(), str(tmp_path / "evil.bin"), "cpu", False)


def _derived_buffer_init(self: Any) -> None:
    nn.Module.__init__(self)
    self.lin = nn.Linear(16, 16)
    # non-persistent state computed from freshly initialised weights: a reference copy, a norm (a Python float)
    self.register_buffer("w0", self.lin.weight.detach().clone(), persistent=False)
    self.norm0 = float(self.lin.weight.data.norm())


def _random_buffer_init(self: Any) -> None:
    nn.Module.__init__(self)
    self.lin = nn.Linear(16, 16)
    self.register_buffer("projection", torch.randn(16, 4), persistent=False)  # fixed random features


@pytest.mark.parametrize("init", [_derived_buffer_init, _random_buffer_init])
def test_construction_state_matches_a_plain_construction(tmp_path: Path, init: Any) -> None:
    """Lean loading must not leak uninitialised memory or a shifted RNG stream into what __init__ computes."""

    class Model(nn.Module, PyTorchModelHubMixin):
        __init__ = init

    torch.manual_seed(0)
    saved = Model()
    saved.save_pretrained(tmp_path)
    torch.manual_seed(1)
    plain = Model()
    torch.manual_seed(1)
    loaded = Model.from_pretrained(tmp_path)
    assert torch.equal(loaded.lin.weight, saved.lin.weight)
    for name, buffer in plain.named_buffers():
        assert torch.equal(dict(loaded.named_buffers())[name], buffer), name
    if hasattr(plain, "norm0"):
        assert loaded.norm0 == plain.norm0


def test_lean_load_still_skips_init_for_plain_models() -> None:
    from modelhub.mixins._torch_init import skip_parameter_init

    with skip_parameter_init() as skipped:
        model = Net(extra=True)
    assert all(param in skipped for param in model.parameters())
    assert skipped.read == []  # shapes and sizes are looked at, never the values
