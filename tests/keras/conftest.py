"""Keras test setup: Keras 3 runs on the torch backend in the main environment (no TensorFlow there).

The backend is chosen before anything imports keras. The TensorFlow job (``pytest -m tf_keras``) sets
``KERAS_BACKEND=tensorflow`` and ``TF_USE_LEGACY_KERAS=1`` itself; ``setdefault`` leaves those alone.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")


@pytest.fixture(scope="session")
def keras3() -> Any:
    """The Keras 3 module (tests needing it are skipped where it is not installed)."""
    keras = pytest.importorskip("keras")
    if not keras.__version__.startswith("3."):
        pytest.skip(f"Keras 3 needed, found {keras.__version__}")
    return keras


@pytest.fixture(scope="session")
def tf_keras() -> Any:
    """tf-keras (Keras 2), for the ``tf_keras`` job."""
    return pytest.importorskip("tf_keras")
