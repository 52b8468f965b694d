"""Keras 3 (torch backend) save / load on local directories: layouts, card, history, plot, errors."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from modelhub.errors import KerasModelNotFoundError
from modelhub.mixins import _keras_card
from modelhub.mixins.keras import (
    KERAS_MODEL_FILE,
    KerasModelHubMixin,
    detect_layout,
    from_pretrained_keras,
    save_pretrained_keras,
)

from ._models import data, make_model, predict

pytestmark = pytest.mark.keras

KINDS = ["functional", "sequential", "subclassed"]


def _archive_entries(path: Path) -> tuple[dict, list[str]]:
    """(Keras config.json, h5 group paths) of a .keras archive."""
    import h5py

    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
        weights = archive.read("model.weights.h5")
    names: list[str] = []
    with h5py.File(io.BytesIO(weights), "r") as h5:
        h5.visit(names.append)
    return config, names


@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_predictions_identical(keras3, tmp_path, kind):
    model = make_model(keras3, kind)
    x, _ = data(seed=7)
    save_pretrained_keras(model, tmp_path / "saved", config={"kind": kind, "layers": 2})

    files = sorted(p.name for p in (tmp_path / "saved").iterdir())
    assert KERAS_MODEL_FILE in files and "README.md" in files and "config.json" in files
    assert "history.json" in files  # the model was fit
    loaded = from_pretrained_keras(tmp_path / "saved")
    assert type(loaded).__name__ == type(model).__name__
    np.testing.assert_array_equal(predict(loaded, x), predict(model, x))
    assert loaded.config == {"kind": kind, "layers": 2}
    history = json.loads((tmp_path / "saved" / "history.json").read_text())
    assert set(history) == {"loss"} and len(history["loss"]) == 2
    assert history["loss"] == pytest.approx(model.history.history["loss"])


def test_same_file_as_keras_own_save(keras3, tmp_path):
    """model.keras is Keras' native archive: Keras' own loader reads it."""
    model = make_model(keras3, "functional")
    save_pretrained_keras(model, tmp_path)
    x, _ = data(seed=3)
    direct = keras3.saving.load_model(tmp_path / KERAS_MODEL_FILE)
    np.testing.assert_array_equal(predict(direct, x), predict(model, x))


def test_include_optimizer_false_drops_optimizer_state(keras3, tmp_path):
    model = make_model(keras3, "functional")
    save_pretrained_keras(model, tmp_path)
    config, names = _archive_entries(tmp_path / KERAS_MODEL_FILE)
    assert not config.get("compile_config")
    assert not any(name.startswith("optimizer") for name in names)
    loaded = from_pretrained_keras(tmp_path)
    assert not loaded.compiled
    # The caller's model is left as it was: still compiled, same optimizer, can keep training.
    assert model.compiled and model.optimizer is not None
    x, y = data()
    model.fit(x, y, epochs=1, verbose=0)


def test_include_optimizer_true_keeps_optimizer_state(keras3, tmp_path):
    model = make_model(keras3, "sequential")
    save_pretrained_keras(model, tmp_path, include_optimizer=True)
    config, names = _archive_entries(tmp_path / KERAS_MODEL_FILE)
    assert config["compile_config"]["optimizer"]["config"]["learning_rate"] == pytest.approx(0.0125)
    assert any(name.startswith("optimizer") for name in names)
    loaded = from_pretrained_keras(tmp_path)
    assert loaded.compiled
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) == 4
    for saved, restored in zip(model.optimizer.variables, loaded.optimizer.variables, strict=True):
        np.testing.assert_array_equal(np.asarray(saved), np.asarray(restored))


def test_card_tags_and_hyperparameters(keras3, tmp_path):
    model = make_model(keras3, "functional")
    save_pretrained_keras(model, tmp_path, tags=["tabular", "keras", "demo"], plot_model=False)
    from modelhub.cards import ModelCard

    card = ModelCard.load(tmp_path / "README.md")
    assert card.data.library_name == "keras"
    assert card.data.tags == ["keras", "tabular", "demo"]
    assert "| Hyperparameters | Value |" in card.text
    assert "| learning_rate | 0.0125 |" in card.text
    assert re.search(r"^\| name \| adam(_\d+)? \|$", card.text, re.M)  # Keras numbers later instances
    assert "| beta_1 | 0.9 |" in card.text
    assert "| training_precision | float32 |" in card.text
    assert "model.png" not in card.text
    assert not (tmp_path / "model.png").exists()


def test_single_string_tag_and_uncompiled_model_card(keras3, tmp_path):
    model = make_model(keras3, "functional", compiled=False)
    save_pretrained_keras(model, tmp_path, tags="vision", plot_model=False)
    text = (tmp_path / "README.md").read_text()
    assert "- keras\n- vision\n" in text
    assert "Hyperparameters" not in text  # no optimizer, no table
    assert not (tmp_path / "history.json").exists()  # never fit


@pytest.mark.skipif(not _keras_card.plot_available(), reason="pydot or Graphviz (dot) not installed")
@pytest.mark.parametrize("kind", ["functional", "sequential"])
def test_plot_written_when_graphviz_installed(keras3, tmp_path, kind):
    save_pretrained_keras(make_model(keras3, kind), tmp_path)
    png = (tmp_path / "model.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000
    assert "![Model Image](./model.png)" in (tmp_path / "README.md").read_text()


def test_plot_skipped_with_info_log_without_graphviz(keras3, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no `dot` program reachable
    with caplog.at_level(logging.INFO, logger="modelhub"):
        save_pretrained_keras(make_model(keras3, "functional"), tmp_path / "out")
    assert not (tmp_path / "out" / "model.png").exists()
    assert "Model Plot" not in (tmp_path / "out" / "README.md").read_text()
    assert any("plot skipped" in r.getMessage() and "Graphviz" in r.getMessage() for r in caplog.records)


def test_existing_readme_is_kept(keras3, tmp_path):
    (tmp_path / "README.md").write_text("# my own card\n")
    save_pretrained_keras(make_model(keras3, "functional"), tmp_path)
    assert (tmp_path / "README.md").read_text() == "# my own card\n"


def test_model_save_kwargs_reach_keras(keras3, tmp_path):
    with pytest.raises(ValueError, match="not supported"):
        save_pretrained_keras(make_model(keras3, "functional"), tmp_path, not_a_keras_option=1)
    # The weights failed: the plot rendered meanwhile is removed, no card or other extra is written.
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_model_kwargs_reach_the_loader(keras3, tmp_path):
    model = make_model(keras3, "functional")
    save_pretrained_keras(model, tmp_path, include_optimizer=True)
    assert from_pretrained_keras(tmp_path).compiled
    assert not from_pretrained_keras(tmp_path, compile=False).compiled


def test_unbuilt_model_is_refused_and_nothing_written(keras3, tmp_path):
    from ._models import subclassed_class

    model = subclassed_class(keras3)(hidden=4)
    target = tmp_path / "out"
    with pytest.raises(ValueError, match=r"not built.*calling it on data.*model\.build\(input_shape\)"):
        save_pretrained_keras(model, target)
    assert not target.exists()


@pytest.mark.filterwarnings("ignore:`build\\(\\)` was called on layer")
def test_subclassed_built_by_build_without_built_layers_is_refused(keras3, tmp_path):
    from ._models import subclassed_class

    model = subclassed_class(keras3)(hidden=4)
    model.build((None, 6))
    if all(layer.built for layer in model.layers):
        pytest.skip("this Keras version builds sub-layers in model.build()")
    with pytest.raises(ValueError, match="layer"):
        save_pretrained_keras(model, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_not_a_model_and_bad_config_are_refused(keras3, tmp_path):
    with pytest.raises(TypeError, match="Expected a Keras model"):
        save_pretrained_keras(keras3.layers.Dense(2), tmp_path / "a")
    model = make_model(keras3, "functional")
    with pytest.raises(TypeError, match="config must be a dict"):
        save_pretrained_keras(model, tmp_path / "b", config=["not", "a", "dict"])
    with pytest.raises(TypeError, match="JSON-serializable"):
        save_pretrained_keras(model, tmp_path / "c", config={"x": object()})
    with pytest.raises(TypeError, match="tags must be strings"):
        save_pretrained_keras(model, tmp_path / "d", tags=["ok", 3])
    assert sorted(tmp_path.iterdir()) == []


def test_missing_path_and_bare_keras_file(keras3, tmp_path):
    from modelhub.errors import HFValidationError

    with pytest.raises(HFValidationError, match="not an existing local directory"):
        from_pretrained_keras(str(tmp_path / "nowhere" / "model-dir"))
    model = make_model(keras3, "functional")
    model.save(tmp_path / "plain.keras")
    x, _ = data()
    np.testing.assert_array_equal(
        predict(from_pretrained_keras(tmp_path / "plain.keras"), x), predict(model, x)
    )


def test_directory_without_a_model_is_a_clear_error(keras3, tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(KerasModelNotFoundError, match=r"holds no Keras model.*model\.keras.*notes\.txt"):
        from_pretrained_keras(tmp_path)


def test_saved_model_layout_without_tf_keras_names_the_extra(keras3, tmp_path):
    pytest.importorskip("keras")
    try:
        import tf_keras  # noqa: F401

        pytest.skip("tf-keras is installed here")
    except ImportError:
        pass
    (tmp_path / "saved_model.pb").write_bytes(b"\x08\x01")
    with pytest.raises(ImportError, match=r"modelhub\[tf-keras\]"):
        from_pretrained_keras(tmp_path)


def test_keras_file_wins_over_saved_model(keras3, tmp_path):
    model = make_model(keras3, "functional")
    save_pretrained_keras(model, tmp_path)
    (tmp_path / "saved_model.pb").write_bytes(b"stale")
    assert detect_layout(tmp_path) == "keras"
    x, _ = data()
    np.testing.assert_array_equal(predict(from_pretrained_keras(tmp_path), x), predict(model, x))


def test_keras_unzipped_directory_layout_loads(keras3, tmp_path):
    """The layout Keras writes with zipped=False (what model.save('hf://...') uploads)."""
    model = make_model(keras3, "sequential")
    keras3.saving.save_model(model, tmp_path / "unzipped", zipped=False)
    assert detect_layout(tmp_path / "unzipped") == "keras_dir"
    loaded = from_pretrained_keras(tmp_path / "unzipped")
    x, _ = data()
    np.testing.assert_array_equal(predict(loaded, x), predict(model, x))
    assert not isinstance(getattr(loaded, "config", None), dict) or "class_name" not in loaded.config


def test_missing_keras_names_the_extra(tmp_path):
    """Without Keras importable, import modelhub still works and the Keras functions say what to install."""
    (tmp_path / KERAS_MODEL_FILE).write_bytes(b"PK")
    code = (
        "import sys; sys.modules['keras'] = None\n"
        "from modelhub import from_pretrained_keras\n"
        "try:\n"
        f"    from_pretrained_keras({str(tmp_path)!r})\n"
        "except ImportError as exc:\n"
        "    print('IMPORT-ERROR', exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "IMPORT-ERROR" in result.stdout and "modelhub[keras]" in result.stdout


# --- KerasModelHubMixin ------------------------------------------------------------------------------------------
def _mixin_class(keras):
    class HubNet(keras.Model, KerasModelHubMixin, tags=["mixin-test"]):
        """Not registered with Keras: from_pretrained passes the class to Keras itself."""

        def __init__(self, hidden: int = 4, **kwargs):
            super().__init__(**kwargs)
            self.hidden = hidden
            self.body = keras.layers.Dense(hidden, activation="tanh")
            self.out = keras.layers.Dense(2)

        def call(self, inputs):
            return self.out(self.body(inputs))

        def get_config(self):
            return {**super().get_config(), "hidden": self.hidden}

    return HubNet


def test_mixin_save_and_load_locally(keras3, tmp_path):
    HubNet = _mixin_class(keras3)
    model = HubNet(hidden=5)
    x, _ = data(seed=2)
    model(x[:1])
    model.compile(optimizer=keras3.optimizers.SGD(learning_rate=0.5), loss="mse")
    model.save_pretrained(tmp_path)

    assert json.loads((tmp_path / "config.json").read_text()) == {"hidden": 5}
    card = (tmp_path / "README.md").read_text()
    assert "- keras\n" in card and "- mixin-test\n" in card and "| learning_rate | 0.5 |" in card
    loaded = HubNet.from_pretrained(tmp_path)
    assert isinstance(loaded, HubNet) and loaded.hidden == 5
    np.testing.assert_array_equal(predict(loaded, x), predict(model, x))


def test_mixin_unbuilt_model_error(keras3, tmp_path):
    with pytest.raises(ValueError, match="not built"):
        _mixin_class(keras3)(hidden=3).save_pretrained(tmp_path / "x")


def test_import_modelhub_keras_does_not_import_keras():
    code = "import sys, modelhub.mixins.keras; print('keras' in sys.modules, 'tensorflow' in sys.modules)"
    env = {**os.environ}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_truncated_keras_archive_is_a_clear_error(keras3, tmp_path):
    from modelhub.errors import CorruptedCheckpointError

    save_pretrained_keras(make_model(keras3, "functional"), tmp_path, plot_model=False)
    archive = tmp_path / "model.keras"
    archive.write_bytes(archive.read_bytes()[:-200])
    with pytest.raises(CorruptedCheckpointError, match="not a valid .keras archive"):
        from_pretrained_keras(tmp_path)


def test_mixin_class_metadata_reaches_the_keras_card(keras3, tmp_path):
    from modelhub.cards import ModelCard

    class Licensed(
        keras3.Model, KerasModelHubMixin, license="mit", pipeline_tag="tabular-regression", tags="t1"
    ):
        def __init__(self, hidden: int = 3, **kwargs):
            super().__init__(**kwargs)
            self.dense = keras3.layers.Dense(hidden)

        def call(self, inputs):
            return self.dense(inputs)

    model = Licensed()
    x, _ = data()
    model(x[:1])
    model.compile(optimizer=keras3.optimizers.Adam(learning_rate=0.25), loss="mse")
    model.save_pretrained(tmp_path / "fresh", model_card_kwargs={"model_name": "unused by the Keras card"})
    card = ModelCard.load(tmp_path / "fresh" / "README.md")
    assert card.data.license == "mit" and card.data.pipeline_tag == "tabular-regression"
    assert card.data.library_name == "keras"
    assert {"keras", "t1", "model_hub_mixin"} <= set(card.data.tags)
    assert "| learning_rate | 0.25 |" in card.text  # the Keras sections are still there

    (tmp_path / "own").mkdir()
    (tmp_path / "own" / "README.md").write_text("my own card\n")
    model.save_pretrained(tmp_path / "own")
    assert (tmp_path / "own" / "README.md").read_text() == "my own card\n"


def test_mixin_records_passed_arguments_and_warns_about_unjsonable_ones(keras3, tmp_path, caplog):
    class Scaled(keras3.Model, KerasModelHubMixin):
        def __init__(self, hidden: int = 3, activation=None, **kwargs):
            super().__init__(**kwargs)
            self.dense = keras3.layers.Dense(hidden, activation=activation)

        def call(self, inputs):
            return self.dense(inputs)

    model = Scaled(6, activation=keras3.activations.relu)  # positional and keyword, one not JSON-able
    assert model._hub_mixin_config == {"hidden": 6, "activation": None}
    x, _ = data()
    model(x[:1])
    with caplog.at_level(logging.WARNING, logger="modelhub"):
        model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == {"activation": None, "hidden": 6}
    assert any("'activation'" in r.getMessage() and "coder" in r.getMessage() for r in caplog.records)
