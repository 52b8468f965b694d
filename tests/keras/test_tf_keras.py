"""tf-keras (Keras 2): the TensorFlow SavedModel layout of the seed-era huggingface_hub, written and read.

Runs only in the TensorFlow job (``pytest -m tf_keras tests/keras`` with TF_USE_LEGACY_KERAS=1 and
KERAS_BACKEND=tensorflow, see scripts/test.sh): the main environment has no TensorFlow.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelhub.mixins.keras import (
    KerasModelHubMixin,
    from_pretrained_keras,
    push_to_hub_keras,
    save_pretrained_keras,
)

pytestmark = pytest.mark.tf_keras

INPUT_DIM = 5

# The model card the seed-era huggingface_hub (0.20) wrote beside a SavedModel, reproduced as a fixture.
SEED_ERA_CARD = """---
library_name: keras
tags:
- image-classification
---

## Model description

More information needed

## Intended uses & limitations

More information needed

## Training and evaluation data

More information needed

## Training procedure

### Training hyperparameters

The following hyperparameters were used during training:

| Hyperparameters | Value |
| :-- | :-- |
| name | Adam |
| learning_rate | 0.0010000000474974513 |
| training_precision | float32 |
"""


@pytest.fixture(scope="module")
def tfk() -> Any:
    os.environ["TF_USE_LEGACY_KERAS"] = (
        "1"  # tf.keras is Keras 2 (tf-keras), as users of the SavedModel era had
    )
    pytest.importorskip("tensorflow")
    return pytest.importorskip("tf_keras")


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((12, INPUT_DIM)).astype("float32"), rng.standard_normal((12, 2)).astype(
        "float32"
    )


def _model(tfk: Any, kind: str, seed: int = 0) -> Any:
    tfk.utils.set_random_seed(seed)
    if kind == "sequential":
        model = tfk.Sequential(
            [tfk.layers.Dense(6, activation="relu", input_shape=(INPUT_DIM,)), tfk.layers.Dense(2)]
        )
    else:
        inputs = tfk.Input((INPUT_DIM,))
        model = tfk.Model(inputs, tfk.layers.Dense(2)(tfk.layers.Dense(6, activation="relu")(inputs)))
    model.compile(optimizer=tfk.optimizers.Adam(learning_rate=0.02), loss="mse")
    x, y = _data(seed)
    model.fit(x, y, epochs=2, batch_size=6, verbose=0)
    return model


def _predict(model: Any, x: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict(x, verbose=0))


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_saved_model_round_trip(tfk, tmp_path, kind):
    model = _model(tfk, kind)
    save_pretrained_keras(model, tmp_path, config={"kind": kind}, tags="tabular")
    for name in (
        "saved_model.pb",
        "keras_metadata.pb",
        "variables/variables.index",
        "config.json",
        "README.md",
    ):
        assert (tmp_path / name).is_file(), name
    assert not (tmp_path / "model.keras").exists()
    history = json.loads((tmp_path / "history.json").read_text())
    assert len(history["loss"]) == 2
    card = (tmp_path / "README.md").read_text()
    assert "library_name: keras" in card and "- keras\n- tabular\n" in card
    assert "| learning_rate | 0.02 |" in card

    loaded = from_pretrained_keras(tmp_path)
    x, _ = _data(seed=9)
    np.testing.assert_array_equal(_predict(loaded, x), _predict(model, x))
    assert loaded.config == {"kind": kind}
    assert loaded.optimizer is None  # include_optimizer=False


def test_saved_model_include_optimizer(tfk, tmp_path):
    model = _model(tfk, "functional")
    save_pretrained_keras(model, tmp_path, include_optimizer=True, plot_model=False)
    loaded = from_pretrained_keras(tmp_path)
    # tf-keras restores the optimizer (its slot variables lazily, on the next training step).
    assert loaded.optimizer is not None
    assert loaded.optimizer.get_config()["learning_rate"] == pytest.approx(0.02)
    x, y = _data()
    loaded.fit(x, y, epochs=1, verbose=0)


def test_unbuilt_tf_keras_model_refused(tfk, tmp_path):
    model = tfk.Sequential([tfk.layers.Dense(2)])
    with pytest.raises(ValueError, match="not built"):
        save_pretrained_keras(model, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def _seed_era_folder(tfk: Any, folder: Path, model: Any) -> None:
    """What huggingface_hub 0.20's save_pretrained_keras left in a repo: SavedModel at the root + extras."""
    folder.mkdir(parents=True)
    tfk.models.save_model(model, str(folder), include_optimizer=False)
    (folder / "config.json").write_text(json.dumps({"num_classes": 2}))
    (folder / "history.json").write_text(json.dumps(model.history.history, default=float))
    (folder / "README.md").write_text(SEED_ERA_CARD)


def test_seed_era_repo_layout_loads_from_the_hub(tfk, hub, tmp_path):
    from modelhub.client import HubApi

    model = _model(tfk, "sequential", seed=3)
    _seed_era_folder(tfk, tmp_path / "seed", model)
    api = HubApi(token=hub.token)
    repo_id = hub.new_repo_id()
    api.create_repo(repo_id)
    first = api.upload_folder(repo_id=repo_id, folder_path=tmp_path / "seed", commit_message="seed-era push")
    # A later commit changes the weights: the first revision must still load as it was.
    other = _model(tfk, "sequential", seed=4)
    _seed_era_folder(tfk, tmp_path / "seed2", other)
    api.upload_folder(repo_id=repo_id, folder_path=tmp_path / "seed2", commit_message="second")

    x, _ = _data(seed=5)
    latest = from_pretrained_keras(repo_id, token=hub.token)
    np.testing.assert_array_equal(_predict(latest, x), _predict(other, x))
    old = from_pretrained_keras(f"{repo_id}@{first.oid}", token=hub.token)
    np.testing.assert_array_equal(_predict(old, x), _predict(model, x))
    assert old.config == {"num_classes": 2}


def test_push_tf_keras_model_and_load_by_revision(tfk, hub, tmp_path):
    from modelhub.client import HubApi

    model = _model(tfk, "functional", seed=6)
    repo_id = hub.new_repo_id()
    commit = push_to_hub_keras(model, repo_id, token=hub.token, config={"a": 1}, plot_model=False)
    files = set(HubApi(token=hub.token).list_repo_files(repo_id))
    assert {"saved_model.pb", "keras_metadata.pb", "variables/variables.index", "README.md"} <= files
    x, _ = _data(seed=1)
    loaded = from_pretrained_keras(repo_id, revision=commit.oid, token=hub.token)
    np.testing.assert_array_equal(_predict(loaded, x), _predict(model, x))


def test_mixin_with_tf_keras(tfk, tmp_path):
    class TfNet(tfk.Model, KerasModelHubMixin):
        def __init__(self, units: int = 3, **kwargs):
            super().__init__(**kwargs)
            self.dense = tfk.layers.Dense(units)

        def call(self, inputs):
            return self.dense(inputs)

    model = TfNet(units=4)
    x, _ = _data()
    model(x)
    model.save_pretrained(tmp_path)
    assert (tmp_path / "saved_model.pb").is_file()
    assert json.loads((tmp_path / "config.json").read_text()) == {"units": 4}
    loaded = TfNet.from_pretrained(tmp_path)  # a revived SavedModel object (tf-keras does not rebuild TfNet)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=0, atol=0)
