"""fastai test helpers; every test here is skipped cleanly when fastai is not importable."""

from __future__ import annotations

from typing import Any

import pytest

from ._learners import make_learner


@pytest.fixture
def learner() -> Any:
    pytest.importorskip("fastai.learner", reason="fastai is not installed")
    return make_learner(seed=0, epochs=1)
