"""The official huggingface_hub (an oracle) and modelhub read each other's fastai directories."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

from modelhub.mixins.fastai import from_pretrained_fastai, save_pretrained_fastai

from ._learners import predictions

pytestmark = [pytest.mark.fastai, pytest.mark.interop]
torch = pytest.importorskip("torch")
pytest.importorskip("fastai.learner", reason="fastai is not installed")
fastai_utils = pytest.importorskip("huggingface_hub.fastai_utils")


def test_official_loader_reads_our_directory(
    learner: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("toml", reason="the official fastai loader needs the toml package")
    save_pretrained_fastai(learner, tmp_path / "saved")
    # Its argument check rejects absolute paths, so hand it a directory name relative to the working directory.
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = fastai_utils.from_pretrained_fastai("saved")
    assert torch.equal(predictions(theirs), predictions(learner))


def test_we_read_the_official_directory(learner: Any, tmp_path: Path) -> None:
    fastai_utils._save_pretrained_fastai(learner, tmp_path / "theirs", config={"a": 1})
    text = (tmp_path / "theirs" / "pyproject.toml").read_text()
    assert '"fastai=' in text  # the legacy single '=' layout our reader must understand
    ours = from_pretrained_fastai(str(tmp_path / "theirs"))
    assert torch.equal(predictions(ours), predictions(learner))
