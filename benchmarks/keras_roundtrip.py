"""Save and load of a Keras 3 model with ~200 MB of weights: modelhub vs Keras called directly, same run.

Run from the repository root with the venv ``scripts/test.sh`` builds (``.venv/`` beside the checkout; the
backend defaults to torch, the one installed there):

    .venv/bin/python benchmarks/keras_roundtrip.py [--repeats 5] [--mb 200] [--no-plot]

Ours: ``save_pretrained_keras(model, dir)`` (model.keras + README card + model plot when Graphviz is installed)
and ``from_pretrained_keras(dir)``. Baseline: ``model.save(dir / "model.keras")`` and
``keras.saving.load_model(path)``. The model is uncompiled, so both write the same weights (no optimizer state).
Runs alternate between ours and the baseline, each into a fresh directory; medians and minimums of the repeats are
compared, and the median of the per-repeat ratios (each pair ran back to back, so slow drifts of the machine's load
cancel out). Target: overhead under 10%.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")


def build_model(keras: Any, megabytes: float) -> Any:
    """Two Dense layers whose float32 weights add up to about ``megabytes``."""
    params = megabytes * 1e6 / 4
    width_in = 2048
    # params ~= width_in * hidden + hidden * hidden / 2 + biases, with the second layer half as wide
    hidden = int(-width_in + (width_in**2 + 2 * params) ** 0.5)
    model = keras.Sequential(
        [keras.Input((width_in,)), keras.layers.Dense(hidden), keras.layers.Dense(hidden // 2)], name="big"
    )
    return model


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--mb", type=float, default=200.0, help="approximate size of the weights in MB")
    parser.add_argument(
        "--no-plot", action="store_true", help="pass plot_model=False to save_pretrained_keras"
    )
    args = parser.parse_args()

    import numpy as np

    import keras
    from modelhub.mixins._keras_card import plot_available
    from modelhub.mixins.keras import from_pretrained_keras, save_pretrained_keras

    model = build_model(keras, args.mb)
    size_mb = sum(int(np.prod(w.shape)) for w in model.weights) * 4 / 1e6
    x = np.random.default_rng(0).standard_normal((4, 2048)).astype("float32")
    expected = np.asarray(model.predict(x, verbose=0))
    plot = not args.no_plot
    print(
        f"keras {keras.__version__} backend={keras.backend.backend()} weights={size_mb:.1f} MB "
        f"repeats={args.repeats} plot_model={plot} (graphviz available: {plot_available()})"
    )

    # The baseline calls Keras' functions directly. Our functions reach Keras through keras.saving.*, wrapped here
    # to clock the time spent inside Keras: total minus that is modelhub's own work (card, plot, checks), a
    # figure that does not drift with the machine's load the way the end-to-end comparison does.
    keras_load = keras.saving.load_model
    inside_keras: list[float] = []

    def clocked(fn: Any) -> Any:
        def wrapper(*a: Any, **kw: Any) -> Any:
            elapsed, result = timed(fn, *a, **kw)
            inside_keras.append(elapsed)
            return result

        return wrapper

    keras.saving.save_model = clocked(keras.saving.save_model)
    keras.saving.load_model = clocked(keras_load)

    root = Path(tempfile.mkdtemp(prefix="keras-bench-"))
    own: dict[str, list[float]] = {"save": [], "load": []}
    times: dict[str, list[float]] = {"ours_save": [], "base_save": [], "ours_load": [], "base_load": []}
    try:
        # Warm-up (imports, first-call costs) for both paths, not timed.
        save_pretrained_keras(model, root / "warm-ours", plot_model=plot)
        model.save(root / "warm-base.keras")
        from_pretrained_keras(root / "warm-ours")
        keras_load(root / "warm-base.keras")
        for i in range(args.repeats):
            ours_dir, base_dir = root / f"ours-{i}", root / f"base-{i}"
            base_dir.mkdir()
            order = ["ours", "base"] if i % 2 == 0 else ["base", "ours"]
            steps = {  # (function, its directory argument)
                "ours_save": (lambda d: save_pretrained_keras(model, d, plot_model=plot), ours_dir),
                "base_save": (lambda d: model.save(d / "model.keras"), base_dir),
                "ours_load": (from_pretrained_keras, ours_dir),
                "base_load": (lambda d: keras_load(d / "model.keras"), base_dir),
            }
            loaded: dict[str, Any] = {}
            for op in ("save", "load"):
                for who in order:
                    gc.collect()  # a previous model's memory is not freed on our clock (or Keras')
                    inside_keras.clear()
                    elapsed, result = timed(*steps[f"{who}_{op}"])
                    times[f"{who}_{op}"].append(elapsed)
                    if who == "ours":
                        own[op].append(elapsed - sum(inside_keras))
                    if op == "load":
                        loaded[who] = result
            for who, m in loaded.items():
                np.testing.assert_array_equal(np.asarray(m.predict(x, verbose=0)), expected, err_msg=who)
            shutil.rmtree(ours_dir)
            shutil.rmtree(base_dir)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    for op in ("save", "load"):
        ours, base = times[f"ours_{op}"], times[f"base_{op}"]
        med_o, med_b, min_o, min_b = statistics.median(ours), statistics.median(base), min(ours), min(base)
        print(
            f"{op}: ours median {med_o:.3f}s min {min_o:.3f}s | keras median {med_b:.3f}s min {min_b:.3f}s | "
            f"ratio median {med_o / med_b:.3f} ({100 * (med_o / med_b - 1):+.1f}%), "
            f"min {min_o / min_b:.3f} ({100 * (min_o / min_b - 1):+.1f}%)"
        )
        paired = statistics.median(o / b for o, b in zip(ours, base, strict=True))
        print(
            f"{op}: median of the per-repeat ratios (back-to-back pairs) {paired:.3f} ({100 * (paired - 1):+.1f}%)"
        )
        own_med = statistics.median(own[op])
        print(
            f"{op}: modelhub's own work (outside Keras) median {1000 * own_med:.1f} ms = "
            f"{100 * own_med / med_b:.1f}% of Keras' median {op} time"
        )


if __name__ == "__main__":
    main()
