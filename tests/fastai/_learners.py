"""Small real fastai learners for the tests: a linear regression whose data comes from a DataBlock over a tensor
(so ``Learner.export`` works; fastai's ``synth_learner`` uses a bare TensorDataset, which cannot be exported).

The item getters are module-level functions so that pickles reference them by name (``tests.fastai._learners``).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any


# No annotations on purpose: fastai dispatches transforms on their type hints, and `Any` breaks isinstance.
def get_x(row):
    return row[:1]


def get_y(row):
    return row[1:]


def _table(seed: int, n: int = 64) -> Any:
    import torch

    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, generator=generator)
    return torch.cat([x, 2 * x + 3], dim=1)


def make_learner(seed: int = 0, *, get_y_fn: Any = get_y, epochs: int = 0) -> Any:
    """A regression learner on y = 2x + 3; ``epochs`` > 0 trains it (changes its predictions)."""
    import fastai.callback.progress  # noqa: F401 (adds Learner.no_bar)
    import torch
    from fastai.data.block import DataBlock
    from fastai.learner import Learner
    from fastai.losses import MSELossFlat
    from fastai.optimizer import SGD
    from fastai.test_utils import RegModel

    torch.manual_seed(seed)
    dls = DataBlock(get_x=get_x, get_y=get_y_fn).dataloaders(_table(seed), bs=16, num_workers=0)
    learner = Learner(dls, RegModel(), loss_func=MSELossFlat(), opt_func=partial(SGD, mom=0.9), lr=1e-2)
    if epochs:
        with learner.no_bar(), learner.no_logging():
            learner.fit(epochs)
    return learner


def predictions(learner: Any, seed: int = 123) -> Any:
    """The learner's predictions on fixed rows, through its own (exported) data pipeline."""
    rows = _table(seed, n=8).numpy()
    with learner.no_bar():
        preds, _ = learner.get_preds(dl=learner.dls.test_dl(rows))
    return preds


def write_pyproject(folder: Path, *requires: str) -> None:
    """A pyproject.toml whose [build-system] requires lists ``requires``."""
    quoted = ", ".join(f'"{r}"' for r in requires)
    (folder / "pyproject.toml").write_text(f"[build-system]\nrequires = [{quoted}]\n", encoding="utf-8")
