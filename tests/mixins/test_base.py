"""ModelHubMixin without any framework: class options, config capture, coders, save/load hooks, model cards."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pytest

from modelhub import ModelCard, ModelHubMixin
from modelhub.errors import HFValidationError


class JsonModel(ModelHubMixin):
    """A minimal integration: the 'weights' are a JSON file."""

    def _save_pretrained(self, save_directory: Path) -> None:
        (save_directory / "weights.json").write_text(json.dumps(getattr(self, "weights", {})))

    @classmethod
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        revision: str | None,
        cache_dir: Any,
        force_download: bool,
        local_files_only: bool,
        token: Any,
        **model_kwargs: Any,
    ) -> Any:
        model = cls(**model_kwargs)
        model.weights = json.loads((Path(model_id) / "weights.json").read_text())
        return model


class Point:
    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)


POINT_CODER = (lambda p: [p.x, p.y], lambda data: Point(*data))


@dataclass
class Config:
    hidden: int = 4
    name: str = "cfg"


# --------------------------------------------------------------------------------------- class-level options
class Lib(JsonModel, library_name="my-lib", tags=["vision"], repo_url="https://code", license="mit"):
    def __init__(self, size: int = 3) -> None:
        self.size = size


class SubLib(
    Lib, tags=["extra"], docs_url="https://docs", paper_url="https://arxiv.org/abs/1", language="fr"
):
    pass


def test_class_options_are_merged_and_inherited() -> None:
    data = SubLib._hub_mixin_info.model_card_data
    assert data.library_name == "my-lib"
    assert data.license == "mit"
    assert data.language == "fr"
    assert data.tags == ["extra", "model_hub_mixin", "vision"]
    assert SubLib._hub_mixin_info.repo_url == "https://code"
    assert SubLib._hub_mixin_info.docs_url == "https://docs"
    # the parent is not modified by its subclass
    assert Lib._hub_mixin_info.model_card_data.tags == ["model_hub_mixin", "vision"]
    assert Lib._hub_mixin_info.docs_url is None


def test_model_hub_mixin_tag_always_present_and_tags_not_mutated() -> None:
    user_tags = ["a"]

    class Plain(JsonModel, tags=user_tags):
        pass

    assert user_tags == ["a"]
    assert Plain._hub_mixin_info.model_card_data.tags == ["a", "model_hub_mixin"]
    assert JsonModel._hub_mixin_info.model_card_data.tags == ["model_hub_mixin"]


def test_license_other_and_pipeline_tag_in_card(tmp_path: Path) -> None:
    class Other(
        JsonModel, license="other", license_name="my-license", license_link="https://l", pipeline_tag="x"
    ):
        pass

    Other().save_pretrained(tmp_path)
    card = ModelCard.load(tmp_path / "README.md")
    assert card.data.license == "other"
    assert card.data.license_name == "my-license"
    assert card.data.license_link == "https://l"
    assert card.data.pipeline_tag == "x"


# --------------------------------------------------------------------------------------- config capture
class Args(JsonModel):
    def __init__(self, a: int, b: str = "bee", c: float = 0.5, d: Any = None) -> None:
        self.a, self.b, self.c, self.d = a, b, c, d


def test_config_from_passed_and_default_values() -> None:
    assert Args(1)._hub_mixin_config == {"a": 1, "b": "bee", "c": 0.5, "d": None}
    assert Args(2, "x", d=[1, 2])._hub_mixin_config == {"a": 2, "b": "x", "c": 0.5, "d": [1, 2]}


def test_non_jsonable_argument_left_out_with_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = Args(1, c=object())
    assert model._hub_mixin_config == {"a": 1, "b": "bee", "c": 0.5, "d": None}  # c: its default stays
    model = Args(1, d=object())
    with caplog.at_level(logging.WARNING, logger="modelhub"):
        model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == {"a": 1, "b": "bee", "c": 0.5, "d": None}
    assert "'d' (object, not JSON-serializable)" in caplog.text and "coder" in caplog.text


def test_config_json_sorted_and_indented(tmp_path: Path) -> None:
    Args(1, "z").save_pretrained(tmp_path)
    text = (tmp_path / "config.json").read_text()
    assert text == json.dumps({"a": 1, "b": "z", "c": 0.5, "d": None}, sort_keys=True, indent=2)


def test_round_trip_restores_init_arguments(tmp_path: Path) -> None:
    Args(7, "q", 1.5, {"k": [1]}).save_pretrained(tmp_path)
    loaded = Args.from_pretrained(tmp_path)
    assert (loaded.a, loaded.b, loaded.c, loaded.d) == (7, "q", 1.5, {"k": [1]})
    assert loaded._hub_mixin_config == {"a": 7, "b": "q", "c": 1.5, "d": {"k": [1]}}
    # explicit kwargs win over config.json
    assert Args.from_pretrained(tmp_path, b="override").b == "override"


def test_config_argument_as_dict_is_merged(tmp_path: Path) -> None:
    class WithConfig(JsonModel):
        def __init__(self, config: dict | None = None, other: int = 1) -> None:
            self.config = config
            self.other = other

    model = WithConfig(config={"hidden": 8, "depth": 2})
    assert model._hub_mixin_config == {"hidden": 8, "depth": 2, "other": 1}
    model.save_pretrained(tmp_path)
    loaded = WithConfig.from_pretrained(tmp_path)
    assert loaded.config == {"depth": 2, "hidden": 8, "other": 1}
    assert loaded.other == 1


def test_config_argument_as_dataclass(tmp_path: Path) -> None:
    class WithDataclass(JsonModel):
        def __init__(self, config: Config) -> None:
            self.config = config

    model = WithDataclass(Config(hidden=9))
    assert model._hub_mixin_config == Config(hidden=9)
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == {"hidden": 9, "name": "cfg"}
    assert WithDataclass.from_pretrained(tmp_path).config == Config(hidden=9)


def test_other_arguments_next_to_a_dataclass_config_warn(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class Both(JsonModel):
        def __init__(self, config: Config, n: int = 1) -> None:
            self.config, self.n = config, n

    with caplog.at_level(logging.WARNING, logger="modelhub"):
        Both(Config(), n=5).save_pretrained(tmp_path)
    assert "'n' (not recorded next to a dataclass `config`)" in caplog.text
    assert json.loads((tmp_path / "config.json").read_text()) == {"hidden": 4, "name": "cfg"}


def test_dataclass_model(tmp_path: Path) -> None:
    @dataclass
    class DataModel(JsonModel):
        depth: int = 2
        names: list[str] = field(default_factory=list)

    model = DataModel(5, names=["x"])
    assert model._hub_mixin_config == {"depth": 5, "names": ["x"]}
    model.save_pretrained(tmp_path)
    assert DataModel.from_pretrained(tmp_path) == DataModel(5, ["x"])


def test_kwargs_model(tmp_path: Path) -> None:
    class KwModel(JsonModel):
        def __init__(self, first: int = 0, **kwargs: Any) -> None:
            self.first = first
            self.kwargs = kwargs

    KwModel(first=1, alpha=2, beta="b").save_pretrained(tmp_path)
    loaded = KwModel.from_pretrained(tmp_path)
    assert loaded.first == 1
    assert loaded.kwargs == {"alpha": 2, "beta": "b"}


def test_coders_encode_and_decode_with_optional(tmp_path: Path) -> None:
    class WithCoders(JsonModel, coders={Point: POINT_CODER}):
        def __init__(self, p: Point, q: Optional[Point] = None, r: Point | None = None) -> None:
            self.p, self.q, self.r = p, q, r

    WithCoders(Point(1, 2), r=Point(5, 6)).save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == {"p": [1, 2], "q": None, "r": [5, 6]}
    loaded = WithCoders.from_pretrained(tmp_path)
    assert loaded.p == Point(1, 2)
    assert loaded.q is None
    assert loaded.r == Point(5, 6)


def test_coders_are_inherited_and_string_annotations_resolved(tmp_path: Path) -> None:
    # this module uses `from __future__ import annotations`: annotations are strings until resolved
    class Parent(JsonModel, coders={Point: POINT_CODER}):
        pass

    class Child(Parent):
        def __init__(self, p: Point = Point(0, 0)) -> None:
            self.p = p

    Child(Point(3, 4)).save_pretrained(tmp_path)
    assert Child.from_pretrained(tmp_path).p == Point(3, 4)
    assert Child()._hub_mixin_config == {"p": [0, 0]}


def test_dataclass_argument_without_coder(tmp_path: Path) -> None:
    class Holder(JsonModel):
        def __init__(self, cfg: Config | None = None) -> None:
            self.cfg = cfg

    Holder(Config(hidden=2)).save_pretrained(tmp_path)
    assert Holder.from_pretrained(tmp_path).cfg == Config(hidden=2)


# --------------------------------------------------------------------------------------- save_pretrained
def test_save_pretrained_keeps_config_written_by_hook_and_existing_readme(tmp_path: Path) -> None:
    class OwnConfig(JsonModel):
        def __init__(self, a: int = 1) -> None:
            self.a = a

        def _save_pretrained(self, save_directory: Path) -> None:
            (save_directory / "config.json").write_text('{"own": true}')

    (tmp_path / "README.md").write_text("my own card")
    (tmp_path / "config.json").write_text('{"stale": 1}')
    OwnConfig().save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == {"own": True}
    assert (tmp_path / "README.md").read_text() == "my own card"


def test_stale_config_replaced_and_explicit_config(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"stale": 1}')
    Args(1).save_pretrained(tmp_path, config={"explicit": True})
    assert json.loads((tmp_path / "config.json").read_text()) == {"explicit": True}


def test_save_into_a_file_path_fails_clearly(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(NotADirectoryError, match="not a directory"):
        Args(1).save_pretrained(target)
    assert target.read_text() == "x"


def test_model_card_content_and_kwargs(tmp_path: Path) -> None:
    SubLib(size=1).save_pretrained(tmp_path, model_card_kwargs={"model_name": "Sized"})
    card = ModelCard.load(tmp_path / "README.md")
    assert card.data.library_name == "my-lib"
    assert card.data.tags == ["extra", "model_hub_mixin", "vision"]
    assert "# Sized" in card.text
    for expected in ("`my-lib`", "https://code", "https://docs", "https://arxiv.org/abs/1", "SubLib"):
        assert expected in card.text


def test_custom_model_card_template() -> None:
    class Templated(
        JsonModel, model_card_template="---\n{{ card_data }}\n---\nHi {{ who }} from {{ model_class }}"
    ):
        pass

    class Inherits(Templated):
        pass

    card = Inherits().generate_model_card(who="you")
    assert card.text == "Hi you from Inherits"
    assert card.data.tags == ["model_hub_mixin"]


# --------------------------------------------------------------------------------------- from_pretrained
def test_from_pretrained_without_config(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "weights.json").write_text('{"w": 1}')
    with caplog.at_level(logging.WARNING, logger="modelhub"):
        model = Lib.from_pretrained(tmp_path)
    assert model.size == 3 and model.weights == {"w": 1}
    assert "config.json not found" in caplog.text


def test_config_injected_when_from_pretrained_asks(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    class Injected(JsonModel):
        def __init__(self, a: int = 1) -> None:
            self.a = a

        @classmethod
        def _from_pretrained(cls, *, model_id: str, config: dict, **kwargs: Any) -> Any:
            seen["config"] = config
            seen["kwargs"] = kwargs
            return cls(a=kwargs["a"])

    Injected(a=4).save_pretrained(tmp_path)
    assert Injected.from_pretrained(tmp_path).a == 4
    assert seen["config"] == {"a": 4}
    assert "proxies" not in seen["kwargs"] and "resume_download" not in seen["kwargs"]


def test_upstream_style_subclass_with_legacy_parameters(tmp_path: Path) -> None:
    """An integration written for older huggingface_hub: required proxies/resume_download keywords."""
    received: dict[str, Any] = {}

    class Legacy(JsonModel):
        def __init__(self, a: int = 1) -> None:
            self.a = a

        @classmethod
        def _from_pretrained(
            cls,
            *,
            model_id: str,
            revision: Optional[str],
            cache_dir: Any,
            force_download: bool,
            proxies: Optional[dict],
            resume_download: bool,
            local_files_only: bool,
            token: Any,
            **model_kwargs: Any,
        ) -> Any:
            received.update(proxies=proxies, resume_download=resume_download, revision=revision)
            return cls(**model_kwargs)

    Legacy(a=2).save_pretrained(tmp_path)
    model = Legacy.from_pretrained(tmp_path, proxies={"http": "p"}, resume_download=True, revision="v1")
    assert model.a == 2
    assert received == {"proxies": {"http": "p"}, "resume_download": True, "revision": "v1"}


def test_upstream_style_from_pretrained_override_calling_super(tmp_path: Path) -> None:
    class Overrides(Args):
        @classmethod
        def from_pretrained(
            cls, pretrained_model_name_or_path: Any, *, force_download: bool = False, **kwargs: Any
        ):
            model = super().from_pretrained(
                pretrained_model_name_or_path, force_download=force_download, **kwargs
            )
            model.tagged = True
            return model

    Overrides(5).save_pretrained(tmp_path)
    loaded = Overrides.from_pretrained(tmp_path, resume_download=None, proxies=None)
    assert loaded.a == 5 and loaded.tagged


@pytest.mark.parametrize("bad", ["./does/not/exist", "a/b/c", "bad repo!", ""])
def test_bad_model_path_names_it(bad: str) -> None:
    with pytest.raises(HFValidationError) as info:
        Args.from_pretrained(bad)
    assert repr(bad) in str(info.value)


def test_missing_path_object_is_a_local_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="No directory at .*models/foo"):
        Args.from_pretrained(tmp_path / "models" / "foo")


def test_file_instead_of_directory(tmp_path: Path) -> None:
    path = tmp_path / "weights.json"
    path.write_text("{}")
    with pytest.raises(HFValidationError, match="is a file"):
        Args.from_pretrained(path)


def test_broken_config_json(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        Args.from_pretrained(tmp_path)


def test_hub_mixin_private_attributes_like_upstream() -> None:
    assert "size" in Lib._hub_mixin_init_parameters
    assert Lib._hub_mixin_jsonable_default_values == {"size": 3}
    assert Lib._hub_mixin_inject_config is False
    assert Lib._hub_mixin_info.model_card_template


class _ArgumentDroppingFramework:
    """A framework base whose ``__new__`` does not pass the constructor arguments on (as keras.Model does)."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        instance = super().__new__(cls)
        instance.created_by_framework = True
        return instance


def test_framework_new_before_the_mixin_keeps_the_arguments(tmp_path: Path) -> None:
    class Net(_ArgumentDroppingFramework, ModelHubMixin):
        def __init__(self, width: int = 1, name: str = "n", fn: Any = None) -> None:
            self.width, self.name = width, name

        def _save_pretrained(self, save_directory: Path) -> None:
            pass

        @classmethod
        def _from_pretrained(cls, *, model_id: str, **model_kwargs: Any) -> Any:  # type: ignore[override]
            model_kwargs = {k: v for k, v in model_kwargs.items() if k in ("width", "name")}
            return cls(**model_kwargs)

    class Wider(Net):  # inherits the wrapper; its own __init__ is what gets recorded
        def __init__(self, width: int = 10, depth: int = 2) -> None:
            super().__init__(width)
            self.depth = depth

    net = Net(5, name="x", fn=print)
    assert net.created_by_framework
    assert net._hub_mixin_config == {"width": 5, "name": "x", "fn": None}
    assert net._hub_mixin_skipped_args == {"fn": "builtin_function_or_method, not JSON-serializable"}
    assert Net()._hub_mixin_config == {"width": 1, "name": "n", "fn": None}
    assert not hasattr(Net(), "_hub_mixin_skipped_args")
    assert Wider(depth=3)._hub_mixin_config == {"width": 10, "depth": 3}

    net.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == {"fn": None, "name": "x", "width": 5}
    loaded = Net.from_pretrained(tmp_path)
    assert (loaded.width, loaded.name) == (5, "x")
