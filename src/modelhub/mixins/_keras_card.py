"""What `save_pretrained_keras` writes beside the weights: model card, training history, model plot.

Kept apart from the save/load logic in :mod:`modelhub.mixins.keras`. Every function here takes the Keras module
(Keras 3 ``keras`` or Keras 2 ``tf_keras``) as an argument, so nothing imports a framework at module import.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import shutil
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

HISTORY_FILE = "history.json"
PLOT_FILE = "model.png"

_CARD_BODY = """
## Model description

More information needed

## Intended uses & limitations

More information needed

## Training and evaluation data

More information needed
"""


def normalize_tags(tags: str | Iterable[str] | None) -> list[str]:
    """``keras`` first, then the user's tags in their order, without duplicates.

    Raises TypeError for anything but a string, an iterable of strings or None.
    """
    if tags is None:
        user_tags: list[str] = []
    elif isinstance(tags, str):
        user_tags = [tags]
    else:
        user_tags = list(tags)
        bad = [tag for tag in user_tags if not isinstance(tag, str)]
        if bad:
            raise TypeError(f"tags must be strings; got {bad!r} in tags={tags!r}")
    result: list[str] = []
    for tag in ["keras", *user_tags]:
        tag = tag.strip()
        if tag and tag not in result:
            result.append(tag)
    return result


def _plain(value: Any) -> Any:
    """A JSON-friendly version of a config value (numpy scalars, tensors, nested dicts)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value
    # numpy scalars / 0-d tensors: ``item()``; anything else: its string form.
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return _plain(item())
        except (TypeError, ValueError, RuntimeError):
            pass
    return str(value)


def _cell(value: Any) -> str:
    """One Markdown table cell: scalars as they are, structures as compact JSON, pipes escaped."""
    value = _plain(value)
    if isinstance(value, float) and math.isfinite(value):
        # 7 significant digits: optimizer values are often float32 (0.0125 stored as 0.012500000186...).
        text = f"{value:.7g}"
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, sort_keys=True)
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def hyperparameter_rows(model: Any, keras_module: Any) -> list[tuple[str, str]]:
    """(name, value) rows read from the model's optimizer config, plus the training precision.

    Empty when the model has no optimizer (never compiled): the card then has no hyper-parameter table.
    """
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not hasattr(optimizer, "get_config"):
        return []
    rows = [(str(key), _cell(value)) for key, value in optimizer.get_config().items()]
    precision = _training_precision(keras_module)
    if precision:
        rows.append(("training_precision", precision))
    return rows


def _training_precision(keras_module: Any) -> str | None:
    # Keras 3: keras.config.dtype_policy(); Keras 2: keras.mixed_precision.global_policy().
    try:
        config = getattr(keras_module, "config", None)
        if config is not None and hasattr(config, "dtype_policy"):
            return str(config.dtype_policy().name)
        return str(keras_module.mixed_precision.global_policy().name)
    except Exception:  # a missing API only costs one table row
        return None


def training_history(model: Any) -> dict[str, list[Any]] | None:
    """The ``History`` recorded by the last ``fit()``, as plain lists, or None when the model was never fit."""
    history = getattr(model, "history", None)
    values = getattr(history, "history", None)
    if not isinstance(values, dict) or not values:
        return None
    return {str(key): _plain(list(series)) for key, series in values.items()}


def write_history(model: Any, directory: Path) -> bool:
    """Write ``history.json`` when the model has a training history; True if written."""
    history = training_history(model)
    if history is None:
        return False
    path = directory / HISTORY_FILE
    if path.exists():
        logger.warning("%s exists; it is replaced by the history of this model", path)
    path.write_text(json.dumps(history, indent=2) + "\n", encoding="utf-8")
    return True


def plot_available() -> bool:
    """True when ``keras.utils.plot_model`` can work: pydot importable and Graphviz's ``dot`` on PATH."""
    return importlib.util.find_spec("pydot") is not None and shutil.which("dot") is not None


class PlotJob:
    """``model.png`` being rendered by Graphviz in a background thread.

    Graphviz's ``dot`` run is nearly all of a plot's cost (~50-150 ms); started before the weights are written, it
    overlaps that write instead of adding to it. ``finish()`` waits for it and says whether the file is there.
    """

    def __init__(self, dot: Any, path: Path, model_name: str) -> None:
        self.path = path
        self.model_name = model_name
        self.error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._render, args=(dot,), name="modelhub-keras-plot", daemon=True
        )
        self._thread.start()

    def _render(self, dot: Any) -> None:
        try:
            dot.write(str(self.path), format="png")
        except BaseException as exc:  # reported by finish(), in the caller's thread
            self.error = exc

    def finish(self) -> bool:
        self._thread.join()
        if self.error is not None:
            logger.warning("Model plot skipped: Graphviz failed for %s: %s", self.model_name, self.error)
            self.path.unlink(missing_ok=True)
            return False
        return self.path.is_file()

    def cancel(self) -> None:
        """Wait for the render and remove its file (the save failed: leave nothing behind)."""
        self._thread.join()
        self.path.unlink(missing_ok=True)


def start_plot(model: Any, directory: Path, keras_module: Any) -> PlotJob | None:
    """Start plotting the model to ``model.png`` (what ``keras.utils.plot_model`` draws), or None if skipped.

    Skipped with an info log when pydot or Graphviz is missing, and with a warning when Keras cannot draw this
    model (a plot is a nice-to-have: it never makes the save fail).
    """
    if not plot_available():
        logger.info(
            "Model plot skipped: keras.utils.plot_model needs pydot (pip install pydot) and Graphviz "
            "(the `dot` program, e.g. apt-get install graphviz)"
        )
        return None
    name = type(model).__name__
    try:
        # The graph is built here, in the caller's thread (it reads the model); only the rendering is threaded.
        dot = keras_module.utils.model_to_dot(model, dpi=200)
    except Exception as exc:  # subclassed models without a graph, odd layers...
        logger.warning("Model plot skipped: Keras cannot draw %s: %s", name, exc)
        return None
    if dot is None:
        logger.warning("Model plot skipped: Keras returned no graph for %s", name)
        return None
    return PlotJob(dot, directory / PLOT_FILE, name)


def card_text(tags: list[str], rows: list[tuple[str, str]], with_plot: bool) -> str:
    """The README.md: YAML metadata (library_name keras, tags) and the sections of the seed-era Keras card."""
    from modelhub.cards import ModelCard, ModelCardData

    parts = [_CARD_BODY]
    if rows:
        table = ["| Hyperparameters | Value |", "| :-- | :-- |"]
        table += [f"| {name} | {value} |" for name, value in rows]
        parts.append(
            "\n## Training procedure\n\n### Training hyperparameters\n\n"
            "The following hyperparameters were used during training:\n\n" + "\n".join(table) + "\n"
        )
    if with_plot:
        parts.append(
            "\n## Model Plot\n\n<details>\n<summary>View Model Plot</summary>\n\n"
            f"![Model Image](./{PLOT_FILE})\n\n</details>\n"
        )
    data = ModelCardData(library_name="keras", tags=tags)
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n" + "".join(parts)))
