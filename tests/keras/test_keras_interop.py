"""Keras 3's own Hugging Face integration (``model.save("hf://...")``, built on the official huggingface_hub)
pushes to our server, and ``from_pretrained_keras`` loads what it wrote (Keras' unzipped layout).

The official client is an oracle here: Keras imports it, modelhub does not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modelhub.mixins.keras import detect_layout, from_pretrained_keras

from ._models import data, make_model, predict

pytestmark = [pytest.mark.keras, pytest.mark.interop]


def test_repo_saved_by_keras_hf_integration_loads(keras3, hub, monkeypatch):
    pytest.importorskip("huggingface_hub")
    monkeypatch.setenv("HF_TOKEN", hub.token)
    model = make_model(keras3, "functional", seed=8)
    repo_id = hub.new_repo_id("kerashf")
    model.save(f"hf://{repo_id}")  # Keras' unzipped layout: config.json + metadata.json + model.weights.h5

    from modelhub.client import snapshot_download

    assert detect_layout(Path(snapshot_download(repo_id, token=hub.token))) == "keras_dir"
    x, _ = data(seed=1)
    np.testing.assert_array_equal(
        predict(from_pretrained_keras(repo_id, token=hub.token), x), predict(model, x)
    )
