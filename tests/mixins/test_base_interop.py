"""Differential tests: the same class built on our ModelHubMixin and on the official one (oracle) must record the
same config, write the same config.json and card metadata, and load each other's directories."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pytest

import modelhub

hf = pytest.importorskip("huggingface_hub")

pytestmark = pytest.mark.interop


class Point:
    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)


CODERS = {Point: (lambda p: [p.x, p.y], lambda data: Point(*data))}


@dataclass
class Cfg:
    hidden: int = 4
    tags: list[str] = field(default_factory=list)


def _hooks(base: type) -> dict[str, Any]:
    """The same framework hooks for both bases: the 'weights' are the instance's attributes as JSON."""

    def _save_pretrained(self: Any, save_directory: Path) -> None:
        (save_directory / "state.json").write_text(json.dumps(sorted(vars(self))))

    def _from_pretrained(cls: Any, *, model_id: str, revision: Any, cache_dir: Any, force_download: bool,
                         local_files_only: bool, token: Any, **model_kwargs: Any) -> Any:  # fmt: skip
        return cls(**model_kwargs)

    return {"_save_pretrained": _save_pretrained, "_from_pretrained": classmethod(_from_pretrained)}


def _pair(name: str, init: Any, **class_kwargs: Any) -> tuple[type, type]:
    classes = []
    for base in (modelhub.ModelHubMixin, hf.ModelHubMixin):
        namespace = {"__init__": init, **_hooks(base)}
        classes.append(type(name, (base,), namespace, **class_kwargs))
    return classes[0], classes[1]


def _args_init(self: Any, a: int, b: str = "bee", c: Any = None, p: Optional[Point] = None) -> None:
    self.a, self.b, self.c, self.p = a, b, c, p


def _config_init(self: Any, config: Optional[dict] = None, depth: int = 2) -> None:
    self.config, self.depth = config, depth


def _dataclass_init(self: Any, config: Cfg, n: int = 1) -> None:
    self.config, self.n = config, n


def _kwargs_init(self: Any, first: int = 0, **kwargs: Any) -> None:
    self.first, self.kwargs = first, kwargs


# (id, __init__, args, kwargs, attributes our from_pretrained must rebuild)
CASES: list[tuple[str, Any, tuple, dict, dict]] = [
    ("args_defaults", _args_init, (1,), {}, {"a": 1, "b": "bee", "c": None, "p": None}),
    (
        "args_passed",
        _args_init,
        (2, "x"),
        {"c": {"k": [1, 2]}},
        {"a": 2, "b": "x", "c": {"k": [1, 2]}, "p": None},
    ),
    ("non_jsonable_left_out", _args_init, (3,), {"c": object()}, {"a": 3, "b": "bee", "c": None, "p": None}),
    ("coder_value", _args_init, (4,), {"p": Point(1, 2)}, {"a": 4, "b": "bee", "c": None, "p": Point(1, 2)}),
    (
        "config_dict",
        _config_init,
        (),
        {"config": {"hidden": 8, "act": "gelu"}},
        {"config": {"hidden": 8, "act": "gelu", "depth": 2}, "depth": 2},  # the whole config, as upstream
    ),
    # as upstream, a dataclass config is saved alone: `n` is not recorded (a warning says so)
    (
        "config_dataclass",
        _dataclass_init,
        (Cfg(hidden=9, tags=["t"]),),
        {"n": 5},
        {"config": Cfg(9, ["t"]), "n": 1},
    ),
    ("kwargs_model", _kwargs_init, (), {"first": 1, "alpha": 2}, {"first": 1, "kwargs": {"alpha": 2}}),
]


@pytest.mark.parametrize(
    ("name", "init", "args", "kwargs", "rebuilt"), CASES, ids=[case[0] for case in CASES]
)
def test_same_config_and_files_as_official(
    tmp_path: Path, name: str, init: Any, args: tuple, kwargs: dict, rebuilt: dict
) -> None:
    ours_cls, theirs_cls = _pair(name, init, coders=CODERS, library_name="lib", tags=["x"], license="mit")
    ours, theirs = ours_cls(*args, **kwargs), theirs_cls(*args, **kwargs)
    assert ours._hub_mixin_config == theirs._hub_mixin_config

    ours.save_pretrained(tmp_path / "ours")
    theirs.save_pretrained(tmp_path / "theirs")
    ours_config, theirs_config = (tmp_path / d / "config.json" for d in ("ours", "theirs"))
    assert ours_config.exists() == theirs_config.exists()
    if ours_config.exists():
        assert ours_config.read_text() == theirs_config.read_text()
    ours_card = hf.ModelCard.load(tmp_path / "ours" / "README.md")
    theirs_card = hf.ModelCard.load(tmp_path / "theirs" / "README.md")
    assert ours_card.data.to_dict() == theirs_card.data.to_dict()

    # cross loading. Ours, from either directory, rebuilds the original arguments. (The official mixin cannot
    # decode string annotations - this module uses `from __future__ import annotations` - so for it we only
    # require that our directory loads exactly like its own.)
    for directory in ("ours", "theirs"):
        loaded = ours_cls.from_pretrained(tmp_path / directory)
        assert {k: v for k, v in vars(loaded).items() if not k.startswith("_hub_mixin")} == rebuilt
    from_ours = theirs_cls.from_pretrained(tmp_path / "ours")
    from_theirs = theirs_cls.from_pretrained(tmp_path / "theirs")
    assert vars(from_ours) == vars(from_theirs)


def test_dataclass_model_same_as_official(tmp_path: Path) -> None:
    classes = []
    for base in (modelhub.ModelHubMixin, hf.ModelHubMixin):
        cls = dataclass(type("DataModel", (base,), {"__annotations__": {"depth": int, "name": str},
                                                    "depth": 2, "name": "n", **_hooks(base)}))  # fmt: skip
        classes.append(cls)
    ours_cls, theirs_cls = classes
    ours_cls(depth=5, name="z").save_pretrained(tmp_path / "ours")
    theirs_cls(depth=5, name="z").save_pretrained(tmp_path / "theirs")
    assert (tmp_path / "ours" / "config.json").read_text() == (
        tmp_path / "theirs" / "config.json"
    ).read_text()
    assert theirs_cls.from_pretrained(tmp_path / "ours") == theirs_cls(5, "z")
    assert ours_cls.from_pretrained(tmp_path / "theirs") == ours_cls(5, "z")
    # positional arguments: recorded under their field names (the official mixin records them as "args")
    ours_cls(7, "w").save_pretrained(tmp_path / "positional")
    assert json.loads((tmp_path / "positional" / "config.json").read_text()) == {"depth": 7, "name": "w"}
    assert theirs_cls.from_pretrained(tmp_path / "positional") == theirs_cls(7, "w")


def test_class_options_merge_like_official() -> None:
    def init(self: Any) -> None:
        pass

    ours_parent, theirs_parent = _pair("Parent", init, tags=["a"], library_name="lib", repo_url="https://r")
    ours_child = type("Child", (ours_parent,), {}, tags=["b"], docs_url="https://d", pipeline_tag="p")
    theirs_child = type("Child", (theirs_parent,), {}, tags=["b"], docs_url="https://d", pipeline_tag="p")
    for ours, theirs in ((ours_parent, theirs_parent), (ours_child, theirs_child)):
        assert (
            ours._hub_mixin_info.model_card_data.to_dict() == theirs._hub_mixin_info.model_card_data.to_dict()
        )
        for attr in ("repo_url", "docs_url", "paper_url"):
            assert getattr(ours._hub_mixin_info, attr) == getattr(theirs._hub_mixin_info, attr)
