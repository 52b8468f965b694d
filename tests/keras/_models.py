"""Small Keras 3 models of the three kinds (functional, sequential, subclassed) for the tests."""

from __future__ import annotations

from typing import Any

import numpy as np

INPUT_DIM = 6
OUTPUT_DIM = 3


def data(seed: int = 0, rows: int = 16) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, INPUT_DIM)).astype("float32")
    y = rng.standard_normal((rows, OUTPUT_DIM)).astype("float32")
    return x, y


_registered: dict[str, type] = {}


def subclassed_class(keras: Any) -> type:
    """A subclassed model registered with Keras (``@register_keras_serializable``), defined once per process."""
    if "TinyNet" in _registered:
        return _registered["TinyNet"]

    @keras.saving.register_keras_serializable(package="modelhub_tests")
    class TinyNet(keras.Model):
        def __init__(self, hidden: int = 8, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.hidden = hidden
            self.inner = keras.layers.Dense(hidden, activation="relu")
            self.head = keras.layers.Dense(OUTPUT_DIM)

        def call(self, inputs: Any) -> Any:
            return self.head(self.inner(inputs))

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "hidden": self.hidden}

    _registered["TinyNet"] = TinyNet
    return TinyNet


def make_model(keras: Any, kind: str, *, compiled: bool = True, trained: bool = True, seed: int = 0) -> Any:
    """A built model of ``kind`` ("functional", "sequential", "subclassed"), compiled with Adam and fit once."""
    keras.utils.set_random_seed(seed)
    if kind == "functional":
        inputs = keras.Input((INPUT_DIM,))
        hidden = keras.layers.Dense(8, activation="relu")(inputs)
        model = keras.Model(inputs, keras.layers.Dense(OUTPUT_DIM)(hidden), name="functional_net")
    elif kind == "sequential":
        model = keras.Sequential(
            [
                keras.Input((INPUT_DIM,)),
                keras.layers.Dense(8, activation="relu"),
                keras.layers.Dense(OUTPUT_DIM),
            ],
            name="sequential_net",
        )
    elif kind == "subclassed":
        model = subclassed_class(keras)(hidden=8)
    else:
        raise ValueError(kind)
    x, y = data(seed)
    model(x[:2])  # builds subclassed models; harmless for the others
    if compiled:
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.0125), loss="mse")
        if trained:
            model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    return model


def predict(model: Any, x: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict(x, verbose=0))
