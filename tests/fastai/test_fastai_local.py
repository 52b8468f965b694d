"""Saving and loading fastai learners in local directories (no hub): real learners, real pickles."""

from __future__ import annotations

import json
import logging
import pickle
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import tomllib
import yaml

from modelhub.mixins.fastai import UntrustedPickleError, from_pretrained_fastai, save_pretrained_fastai

from ._learners import make_learner, predictions, write_pyproject

pytestmark = pytest.mark.fastai
torch = pytest.importorskip("torch")
pytest.importorskip("fastai.learner", reason="fastai is not installed")


def _card_metadata(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_save_writes_the_documented_files(learner: Any, tmp_path: Path) -> None:
    path_before = learner.path
    out = save_pretrained_fastai(learner, tmp_path / "m", config={"labels": ["y"], "size": 1})
    assert out == tmp_path / "m"
    assert sorted(p.name for p in out.iterdir()) == [
        "README.md",
        "config.json",
        "model.pkl",
        "pyproject.toml",
    ]
    requires = tomllib.loads((out / "pyproject.toml").read_text())["build-system"]["requires"]
    assert f"fastai={metadata.version('fastai')}" in requires
    assert f"fastcore={metadata.version('fastcore')}" in requires
    assert any(r.startswith("python=3.") for r in requires)
    assert json.loads((out / "config.json").read_text()) == {"labels": ["y"], "size": 1}
    card = _card_metadata(out / "README.md")
    assert "fastai" in card["tags"] and card["library_name"] == "fastai"
    assert learner.path == path_before  # exporting into another directory does not move the learner


def test_local_round_trip_needs_no_trust(
    learner: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELHUB_TRUST_REMOTE_PICKLE", "0")
    save_pretrained_fastai(learner, tmp_path)
    loaded = from_pretrained_fastai(str(tmp_path))
    assert torch.equal(predictions(loaded), predictions(learner))
    assert torch.equal(
        predictions(from_pretrained_fastai(tmp_path)), predictions(learner)
    )  # a Path works too
    # The learner still trains after the export (fastai empties dls/opt while pickling and restores them).
    learner.fit(1)
    assert not torch.equal(predictions(learner), predictions(loaded))


def test_existing_card_is_kept(learner: Any, tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# my own card\n", encoding="utf-8")
    save_pretrained_fastai(learner, tmp_path)
    assert (tmp_path / "README.md").read_text(encoding="utf-8") == "# my own card\n"


@pytest.mark.parametrize("kind", ["lambda", "closure"])
def test_unpicklable_learner_is_refused_with_the_fix(tmp_path: Path, kind: str) -> None:
    def closure(row):
        return row[1:]

    getter = (lambda row: row[1:]) if kind == "lambda" else closure
    bad = make_learner(seed=1, get_y_fn=getter)
    before = predictions(bad)
    (tmp_path / "model.pkl").write_bytes(b"previous export")
    with pytest.raises(pickle.PicklingError) as info:
        save_pretrained_fastai(bad, tmp_path)
    message = str(info.value)
    assert "cannot be pickled" in message
    assert "lambda" in message and "functools.partial" in message and "top level of a module" in message
    # Nothing lost: the earlier file is intact, no temp file is left, the learner still has its data and trains.
    assert (tmp_path / "model.pkl").read_bytes() == b"previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pkl"]
    assert len(bad.dls.train_ds) > 0
    assert torch.equal(predictions(bad), before)
    bad.fit(1)


def test_bad_config_is_refused_before_writing(learner: Any, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="config must be a dict"):
        save_pretrained_fastai(learner, tmp_path / "a", config=["not", "a", "dict"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cannot be saved as JSON"):
        save_pretrained_fastai(learner, tmp_path / "b", config={"f": object()})
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_foreign_pyproject_is_not_overwritten(learner: Any, tmp_path: Path) -> None:
    original = '[project]\nname = "my-app"\n'
    (tmp_path / "pyproject.toml").write_text(original, encoding="utf-8")
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        save_pretrained_fastai(learner, tmp_path)
    assert (tmp_path / "pyproject.toml").read_text(encoding="utf-8") == original
    assert not (tmp_path / "model.pkl").exists()


def test_resaving_updates_the_version_record(learner: Any, tmp_path: Path) -> None:
    write_pyproject(tmp_path, "fastai=2.4", "fastcore=1.3.27")
    save_pretrained_fastai(learner, tmp_path)
    assert f"fastai={metadata.version('fastai')}" in (tmp_path / "pyproject.toml").read_text()


def test_old_versions_in_a_directory_are_refused(learner: Any, tmp_path: Path) -> None:
    save_pretrained_fastai(learner, tmp_path)
    write_pyproject(
        tmp_path, "setuptools>=40.8.0", "wheel", "python=3.8.0", "fastai=2.3.1", "fastcore=1.3.20"
    )
    with pytest.raises(ImportError, match=r"saved with fastai 2\.3\.1 .* older than fastai 2\.4"):
        from_pretrained_fastai(str(tmp_path))


def test_missing_pyproject_warns_and_loads(
    learner: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    save_pretrained_fastai(learner, tmp_path)
    (tmp_path / "pyproject.toml").unlink()
    with caplog.at_level(logging.WARNING, logger="modelhub"):
        loaded = from_pretrained_fastai(str(tmp_path))
    assert any("There is no pyproject.toml" in r.getMessage() for r in caplog.records)
    assert torch.equal(predictions(loaded), predictions(learner))


def test_directory_without_model_pkl(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no model.pkl"):
        from_pretrained_fastai(str(tmp_path))


def test_bad_locations_are_explained(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="looks like a path"):
        from_pretrained_fastai(str(tmp_path / "missing" / "model"))
    with pytest.raises(FileNotFoundError, match="looks like a path"):
        from_pretrained_fastai("./no-such-dir")
    (tmp_path / "model.pkl").write_bytes(b"x")
    with pytest.raises(ValueError, match="is a file; pass the directory"):
        from_pretrained_fastai(str(tmp_path / "model.pkl"))
    with pytest.raises(ValueError, match="is a local directory"):
        from_pretrained_fastai(str(tmp_path), revision="main")
    with pytest.raises(ValueError, match="Two different revisions"):
        from_pretrained_fastai("alice/model@v1", revision="v2", trust_pickle=True)
    with pytest.raises(ValueError, match="names no revision"):
        from_pretrained_fastai("alice/model@", trust_pickle=True)


def test_trust_gate_refuses_before_any_download(monkeypatch: pytest.MonkeyPatch) -> None:
    # An unreachable endpoint: a refusal that came after a download attempt would be a connection error instead.
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.delenv("MODELHUB_TRUST_REMOTE_PICKLE", raising=False)
    with pytest.raises(UntrustedPickleError) as info:
        from_pretrained_fastai("alice/model@v1")
    message = str(info.value)
    assert "alice/model@v1" in message and "trust_pickle=True" in message
    assert "MODELHUB_TRUST_REMOTE_PICKLE=1" in message and "runs" in message
    monkeypatch.setenv("MODELHUB_TRUST_REMOTE_PICKLE", "1")
    with pytest.raises(UntrustedPickleError, match="trust_pickle=False was passed"):
        from_pretrained_fastai("alice/model", trust_pickle=False)


def test_missing_module_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A learner whose functions live in a module the loader cannot import: the error names that module."""
    import importlib
    import sys

    module_dir = tmp_path / "src"
    module_dir.mkdir()
    (module_dir / "fastai_getters_for_test.py").write_text("def label(row):\n    return row[1:]\n")
    monkeypatch.syspath_prepend(str(module_dir))
    getters = importlib.import_module("fastai_getters_for_test")
    save_pretrained_fastai(make_learner(seed=7, get_y_fn=getters.label), tmp_path / "saved")

    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(module_dir)])
    monkeypatch.delitem(sys.modules, "fastai_getters_for_test")
    with pytest.raises(ImportError, match="needs the module 'fastai_getters_for_test'"):
        from_pretrained_fastai(str(tmp_path / "saved"))


def test_failed_export_keeps_the_previous_save(learner: Any, tmp_path: Path) -> None:
    save_pretrained_fastai(learner, tmp_path, config={"v": 1})
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(pickle.PicklingError):
        save_pretrained_fastai(make_learner(seed=1, get_y_fn=lambda row: row[1:]), tmp_path, config={"v": 2})
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert torch.equal(predictions(from_pretrained_fastai(str(tmp_path))), predictions(learner))


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_damaged_model_pkl_is_a_clear_error(tmp_path: Path, learner: Any, damage: str) -> None:
    from modelhub.errors import CorruptedCheckpointError

    save_pretrained_fastai(learner, tmp_path)
    model = tmp_path / "model.pkl"
    data = model.read_bytes()
    model.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"\x80\x04garbage")
    with pytest.raises(CorruptedCheckpointError, match=r"model\.pkl .* cannot be read .*force_download=True"):
        from_pretrained_fastai(tmp_path)
