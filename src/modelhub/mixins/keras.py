"""Keras models on the Hub: ``save_pretrained_keras``, ``from_pretrained_keras``, ``push_to_hub_keras`` and
``KerasModelHubMixin``.

Two on-disk layouts, chosen by the model's Keras:

* **Keras 3** (any backend, e.g. ``KERAS_BACKEND=torch``): the native archive ``model.keras`` at the repo root,
  written by ``keras.saving.save_model``. Built-in layers reload from it; custom classes (subclassed models, custom
  layers) reload through Keras' registry: decorate them with ``@keras.saving.register_keras_serializable()``, or
  pass ``custom_objects=`` when loading (``KerasModelHubMixin.from_pretrained`` registers its own class).
* **tf-keras (Keras 2)**: the TensorFlow SavedModel of the seed-era ``huggingface_hub`` (``saved_model.pb``,
  ``keras_metadata.pb``, ``variables/`` at the repo root), so repos pushed by old versions still load.

Beside the weights: ``config.json`` (when a config is given), ``README.md`` (card with tags, hyper-parameters,
plot), ``history.json`` (after ``fit``), ``model.png`` (when pydot + Graphviz are installed) and, on push,
TensorBoard logs under ``logs/``. See docs/keras.md.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from modelhub.constants import CONFIG_NAME, REPOCARD_NAME
from modelhub.errors import CorruptedCheckpointError, KerasModelNotFoundError
from modelhub.mixins import _hub, _keras_card
from modelhub.mixins.base import ModelHubMixin

logger = logging.getLogger(__name__)

__all__ = [
    "KERAS_MODEL_FILE",
    "SAVED_MODEL_FILE",
    "KerasModelHubMixin",
    "from_pretrained_keras",
    "push_to_hub_keras",
    "save_pretrained_keras",
]

KERAS_MODEL_FILE = "model.keras"
SAVED_MODEL_FILE = "saved_model.pb"
LOGS_DIR = "logs"
DEFAULT_COMMIT_MESSAGE = "Push Keras model using huggingface_hub."

# Keras 3 "unzipped" layout (what ``model.save("hf://...")`` uploads): Keras' own config.json beside these.
_KERAS_DIR_WEIGHTS = "model.weights.h5"
_KERAS_DIR_METADATA = "metadata.json"

# Options of keras.saving.load_model / tf_keras.models.load_model that the mixin's from_pretrained passes on.
_LOADER_OPTIONS = ("custom_objects", "compile", "safe_mode", "options")

KERAS3 = "keras3"
TF_KERAS = "tf_keras"

# Module prefixes of Keras 2 model classes: tf-keras, standalone keras 2.x, TensorFlow's bundled copy.
_LEGACY_MODULE_PREFIXES = ("tf_keras.", "keras.src.engine.", "keras.engine.", "tensorflow.python.keras.")

T = TypeVar("T", bound="KerasModelHubMixin")


# --- which Keras ----------------------------------------------------------------------------------------------
def _import_keras3() -> Any:
    """The Keras 3 module, or ImportError naming the extra to install."""
    try:
        import keras
    except ImportError as exc:
        raise ImportError(
            "Keras 3 is needed to save or load this Keras model but it is not installed: "
            "pip install 'modelhub[keras]' (it runs on the torch, jax or tensorflow backend; choose one with "
            "KERAS_BACKEND, e.g. KERAS_BACKEND=torch)."
        ) from exc
    if not str(getattr(keras, "__version__", "0")).startswith(("3.", "4.")):
        raise ImportError(
            f"Keras {keras.__version__} is installed, but the native `.keras` format needs Keras 3: "
            "pip install 'modelhub[keras]'. For Keras 2 models install tf-keras: pip install 'modelhub[tf-keras]'."
        )
    return keras


def _import_tf_keras() -> Any:
    """Keras 2, needed for the TensorFlow SavedModel layout, or ImportError naming the extra.

    tf-keras first; a standalone ``keras`` 2.x (TensorFlow <= 2.15 installs) is accepted as well.
    """
    try:
        import tf_keras
    except ImportError as exc:
        try:
            import keras

            if str(keras.__version__).startswith("2."):
                return keras
        except ImportError:
            pass
        raise ImportError(
            "This is a TensorFlow SavedModel written by tf-keras (Keras 2), the layout of models pushed by "
            "older huggingface_hub versions. Loading or saving it needs TensorFlow and tf-keras: "
            "pip install 'modelhub[tf-keras]' (then set TF_USE_LEGACY_KERAS=1 so that tf.keras is Keras 2)."
        ) from exc
    return tf_keras


def _legacy_module_for(model: Any) -> Any:
    """The Keras 2 package the model's class comes from (tf_keras, keras 2.x or tensorflow.keras)."""
    import importlib

    for klass in type(model).__mro__:
        module = getattr(klass, "__module__", "") or ""
        if module.startswith(_LEGACY_MODULE_PREFIXES):
            root = module.split(".")[0]
            return (
                importlib.import_module("tensorflow").keras
                if root == "tensorflow"
                else importlib.import_module(root)
            )
    return _import_tf_keras()


def _model_flavour(model: Any) -> str:
    """``"keras3"`` or ``"tf_keras"`` from the model's class hierarchy (no framework import needed)."""
    for klass in type(model).__mro__:
        module = getattr(klass, "__module__", "") or ""
        if module.startswith(_LEGACY_MODULE_PREFIXES):
            return TF_KERAS
        if module.startswith("keras.src.") and klass.__name__ == "Model":
            return KERAS3
    raise TypeError(
        f"Expected a Keras model (keras.Model or tf_keras.Model), got {type(model).__module__}."
        f"{type(model).__qualname__}. Pass the model itself, not a layer or a path."
    )


def _check_built(model: Any) -> None:
    """Refuse a model (or a sub-layer) without weights: Keras would write a file that cannot be loaded back."""
    name = getattr(model, "name", type(model).__name__)
    if not getattr(model, "built", False):
        raise ValueError(
            f"The Keras model {name!r} is not built, so it has no weights to save yet: build it by calling it "
            "on data (e.g. model(x) or model.fit(...)) or with model.build(input_shape) first."
        )
    flatten = getattr(model, "_flatten_layers", None)
    layers = flatten(include_self=False) if callable(flatten) else getattr(model, "layers", [])
    unbuilt = [getattr(layer, "name", repr(layer)) for layer in layers if not getattr(layer, "built", True)]
    if unbuilt:
        raise ValueError(
            f"The Keras model {name!r} is built but its layer(s) {unbuilt} are not (model.build(input_shape) does "
            "not always reach the layers of a subclassed model): build it by calling it on data, e.g. "
            "model(x), first."
        )


@contextlib.contextmanager
def _optimizer_hidden(model: Any) -> Iterator[None]:
    """Make a compiled Keras 3 model look uncompiled while it is saved.

    Keras 3's ``.keras`` writer ignores ``include_optimizer``: it always stores the compile config and the
    optimizer's variables. With both hidden the archive holds the architecture and the weights only, like
    tf.keras' ``include_optimizer=False``, and the reloaded model is uncompiled. Restored even on error (not
    meant for another thread training the same model object during the save).
    """
    state = model.__dict__
    if not getattr(model, "compiled", False) or "optimizer" not in state:
        yield
        return
    saved = {name: state[name] for name in ("optimizer", "compiled") if name in state}
    # object.__setattr__ bypasses Keras' attribute tracking: this must not register or untrack anything.
    object.__setattr__(model, "optimizer", None)
    object.__setattr__(model, "compiled", False)
    try:
        yield
    finally:
        for name, value in saved.items():
            object.__setattr__(model, name, value)


# --- save -----------------------------------------------------------------------------------------------------
def save_pretrained_keras(
    model: Any,
    save_directory: str | os.PathLike[str],
    config: dict[str, Any] | None = None,
    include_optimizer: bool = False,
    plot_model: bool = True,
    tags: list[str] | str | None = None,
    **model_save_kwargs: Any,
) -> None:
    """Save a built Keras model, its card and extras to ``save_directory``.

    Keras 3 models go to ``model.keras`` (``model_save_kwargs`` are passed to ``keras.saving.save_model``);
    tf-keras models to a TensorFlow SavedModel at the directory's root (``model_save_kwargs`` are passed to
    ``tf_keras.models.save_model``). ``config`` (a JSON-serializable dict) is written to ``config.json``.
    ``include_optimizer=False`` leaves out the optimizer state and compile config. A ``README.md`` already in
    the directory is kept; otherwise a card is written with the ``keras`` tag, ``tags``, the optimizer's
    hyper-parameters and, if ``plot_model`` and pydot + Graphviz are installed, the model plot ``model.png``.
    """
    flavour = _model_flavour(model)
    _check_built(model)
    tag_list = _keras_card.normalize_tags(tags)
    config_text = _config_json(config)
    keras_module = _import_keras3() if flavour == KERAS3 else _legacy_module_for(model)

    save_directory = Path(save_directory)
    if save_directory.exists() and not save_directory.is_dir():
        raise NotADirectoryError(f"save_directory={str(save_directory)!r} is a file; pass a directory path")
    save_directory.mkdir(parents=True, exist_ok=True)

    # The plot renders in the background while Keras writes the weights; if the weights fail (the usual
    # failure: unserializable custom objects), nothing else is written.
    plot_job = _keras_card.start_plot(model, save_directory, keras_module) if plot_model else None
    try:
        if flavour == KERAS3:
            with _optimizer_hidden(model) if not include_optimizer else contextlib.nullcontext():
                keras_module.saving.save_model(model, save_directory / KERAS_MODEL_FILE, **model_save_kwargs)
        else:
            keras_module.models.save_model(
                model, str(save_directory), include_optimizer=include_optimizer, **model_save_kwargs
            )
    except BaseException:
        if plot_job is not None:
            plot_job.cancel()
        raise

    if config_text is not None:
        (save_directory / CONFIG_NAME).write_text(config_text, encoding="utf-8")
    _keras_card.write_history(model, save_directory)
    with_plot = plot_job is not None and plot_job.finish()
    readme = save_directory / REPOCARD_NAME
    if readme.exists():
        logger.info("%s exists; kept as is (delete it to regenerate the Keras model card)", readme)
    else:
        rows = _keras_card.hyperparameter_rows(model, keras_module)
        readme.write_text(_keras_card.card_text(tag_list, rows, with_plot), encoding="utf-8")


def _config_json(config: Any) -> str | None:
    """``config`` as JSON text, validated before anything is written."""
    if config is None:
        return None
    if not isinstance(config, dict):
        raise TypeError(
            f"config must be a dict (saved as config.json), got {type(config).__name__}: {config!r}"
        )
    try:
        return json.dumps(config, indent=2, sort_keys=True) + "\n"
    except (TypeError, ValueError) as exc:
        raise TypeError(f"config must be JSON-serializable (it is saved as config.json): {exc}") from exc


# --- load -----------------------------------------------------------------------------------------------------
def _resolve_folder(
    name_or_path: str | os.PathLike[str],
    *,
    revision: str | None,
    force_download: bool,
    token: str | bool | None,
    cache_dir: str | os.PathLike[str] | None,
    local_files_only: bool,
    proxies: dict[str, str] | None = None,
) -> Path:
    """A local directory as is, else the snapshot of the repo (TensorBoard ``logs/`` are not downloaded)."""
    path = Path(name_or_path)
    if path.is_dir():
        return path
    repo_id, revision = _hub.split_revision(str(name_or_path), revision)
    _hub.check_model_id(repo_id)  # a missing directory or a malformed id: a clear error before any request
    from modelhub.client import snapshot_download

    return Path(
        snapshot_download(
            repo_id,
            revision=revision,
            cache_dir=cache_dir,
            force_download=force_download,
            token=token,
            local_files_only=local_files_only,
            proxies=proxies,
            ignore_patterns=[f"{LOGS_DIR}/*"],
        )
    )


def detect_layout(folder: Path) -> str:
    """Which saved layout ``folder`` holds: ``"keras"``, ``"saved_model"`` or ``"keras_dir"``.

    ``model.keras`` wins when several are present (a repo that moved from tf-keras to Keras 3 keeps both).
    """
    if (folder / KERAS_MODEL_FILE).is_file():
        return "keras"
    if (folder / SAVED_MODEL_FILE).is_file():
        return "saved_model"
    if all((folder / name).is_file() for name in (_KERAS_DIR_WEIGHTS, _KERAS_DIR_METADATA, CONFIG_NAME)):
        return "keras_dir"
    found = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    shown = ", ".join(found[:20]) + (" ..." if len(found) > 20 else "") if found else "no files"
    raise KerasModelNotFoundError(
        f"{str(folder)!r} holds no Keras model: expected {KERAS_MODEL_FILE} (Keras 3, written by "
        f"save_pretrained_keras), {SAVED_MODEL_FILE} + variables/ (TensorFlow SavedModel of tf-keras / older "
        f"huggingface_hub) or {_KERAS_DIR_WEIGHTS} + {_KERAS_DIR_METADATA} + {CONFIG_NAME} (Keras 3 unzipped). "
        f"Found: {shown}. Check the repo id and revision, or save the model with save_pretrained_keras."
    )


def _check_keras_archive(path: Path) -> None:
    """A truncated or foreign ``model.keras`` is reported as such (Keras itself says "File not found")."""
    import zipfile

    if not zipfile.is_zipfile(path):
        raise CorruptedCheckpointError(
            f"{path} is not a valid .keras archive (truncated, or not a Keras 3 save). If it came from a hub "
            "repo, download it again with force_download=True; otherwise save the model again."
        )


def _load_from_folder(folder: Path, custom_objects: dict[str, Any] | None, **load_kwargs: Any) -> Any:
    layout = detect_layout(folder)
    if custom_objects:
        load_kwargs["custom_objects"] = {**custom_objects, **(load_kwargs.get("custom_objects") or {})}
    if layout == "saved_model":
        model = _import_tf_keras().models.load_model(str(folder), **load_kwargs)
    else:
        keras = _import_keras3()
        target = folder / KERAS_MODEL_FILE if layout == "keras" else folder
        if layout == "keras":
            _check_keras_archive(target)
        model = keras.saving.load_model(target, **load_kwargs)
    # The seed-era API exposes the saved config.json as `model.config` (Keras' own config in "keras_dir").
    config_path = folder / CONFIG_NAME
    if layout != "keras_dir" and config_path.is_file():
        model.config = json.loads(config_path.read_text(encoding="utf-8"))
    return model


def from_pretrained_keras(
    pretrained_model_name_or_path: str | os.PathLike[str],
    *,
    revision: str | None = None,
    force_download: bool = False,
    token: str | bool | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    local_files_only: bool = False,
    proxies: dict[str, str] | None = None,
    **model_kwargs: Any,
) -> Any:
    """Load a Keras model from a local directory, a ``.keras`` file, or a Hub repo (``"user/model"`` or
    ``"user/model@revision"``).

    Reads ``model.keras`` with Keras 3, or a TensorFlow SavedModel (``saved_model.pb``) with tf-keras.
    ``model_kwargs`` go to the loader (``custom_objects``, ``compile``, ``safe_mode`` for Keras 3;
    ``custom_objects``, ``compile``, ``options`` for tf-keras). A saved ``config.json`` is set as ``model.config``.
    """
    path = Path(pretrained_model_name_or_path)
    if path.is_file() and path.suffix == ".keras":  # a bare archive, e.g. written by model.save()
        return _import_keras3().saving.load_model(path, **model_kwargs)
    folder = _resolve_folder(
        pretrained_model_name_or_path,
        revision=revision,
        force_download=force_download,
        token=token,
        cache_dir=cache_dir,
        local_files_only=local_files_only,
        proxies=proxies,
    )
    return _load_from_folder(folder, None, **model_kwargs)


# --- push -----------------------------------------------------------------------------------------------------
def _as_list(patterns: str | Iterable[str] | None) -> list[str]:
    if patterns is None:
        return []
    return [patterns] if isinstance(patterns, str) else list(patterns)


def push_to_hub_keras(
    model: Any,
    repo_id: str,
    *,
    config: dict[str, Any] | None = None,
    commit_message: str = DEFAULT_COMMIT_MESSAGE,
    private: bool | None = None,
    token: str | None = None,
    branch: str | None = None,
    create_pr: bool | None = None,
    allow_patterns: list[str] | str | None = None,
    ignore_patterns: list[str] | str | None = None,
    delete_patterns: list[str] | str | None = None,
    log_dir: str | os.PathLike[str] | None = None,
    include_optimizer: bool = False,
    tags: list[str] | str | None = None,
    plot_model: bool = True,
    **model_save_kwargs: Any,
) -> Any:
    """Save the model as :func:`save_pretrained_keras` does and upload it to ``repo_id`` in one commit.

    The repo is created if needed (``private`` applies then); ``branch`` is created if missing. ``log_dir``
    (TensorBoard logs) is uploaded under ``logs/`` and replaces any remote ``logs/*`` in the same commit.
    ``allow_patterns`` / ``ignore_patterns`` filter the uploaded files, ``delete_patterns`` removes remote files
    in the same commit. Returns the commit URL (a ``CommitInfo``, a str subclass; with ``create_pr`` its
    ``pr_url`` names the pull request).
    """
    # Everything that can be checked locally fails before the repo is created.
    _model_flavour(model)
    _check_built(model)
    logs = None
    if log_dir is not None:
        logs = Path(log_dir)
        if not logs.is_dir():
            raise NotADirectoryError(f"log_dir={str(log_dir)!r} is not a directory of TensorBoard logs")

    deletions = _as_list(delete_patterns)
    if logs is not None:
        deletions.append(f"{LOGS_DIR}/*")

    def write(folder: Path) -> None:
        save_pretrained_keras(
            model,
            folder,
            config=config,
            include_optimizer=include_optimizer,
            plot_model=plot_model,
            tags=tags,
            **model_save_kwargs,
        )
        if logs is not None:
            shutil.copytree(logs, folder / LOGS_DIR)

    return _hub.push_folder(
        write,
        repo_id,
        commit_message=commit_message,
        private=private,
        token=token,
        branch=branch,
        create_pr=create_pr,
        allow_patterns=allow_patterns,
        ignore_patterns=ignore_patterns,
        delete_patterns=deletions or None,
    )


# --- mixin ----------------------------------------------------------------------------------------------------
class KerasModelHubMixin(ModelHubMixin):
    """Gives a ``keras.Model`` subclass ``save_pretrained``, ``from_pretrained`` and ``push_to_hub``.

    Put it after the Keras base class: ``class MyModel(keras.Model, KerasModelHubMixin)``. The model is
    saved with :func:`save_pretrained_keras` (so it must be built), and ``MyModel.from_pretrained`` reloads it
    with Keras 3, passing ``MyModel`` to Keras as a custom object: no registration is needed for the class
    itself (its custom layers still need ``@keras.saving.register_keras_serializable()``).
    """

    def _save_pretrained(self, save_directory: Path) -> None:
        # The Keras card is written (hyper-parameters, plot); the class keyword metadata of the generic mixin
        # (tags, license, language, pipeline_tag, library_name...) goes into its front matter. config.json is the
        # mixin's. A README.md already in the directory is left alone.
        card_data = self._hub_mixin_info.model_card_data
        readme = save_directory / REPOCARD_NAME
        had_card = readme.exists()
        save_pretrained_keras(self, save_directory, tags=card_data.tags)
        if not had_card and readme.is_file():
            from modelhub.cards import ModelCard

            card = ModelCard.load(readme)
            for key, value in card_data.to_dict().items():
                if key != "tags":  # already merged with the Keras tags
                    card.data[key] = value
            card.save(readme)

    @classmethod
    def _from_pretrained(
        cls: type[T],
        *,
        model_id: str,
        revision: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        force_download: bool = False,
        proxies: dict[str, str] | None = None,
        resume_download: bool | None = None,
        local_files_only: bool = False,
        token: str | bool | None = None,
        **model_kwargs: Any,
    ) -> T:
        # The generic mixin turned config.json into __init__ arguments; Keras rebuilds the model from its own
        # saved config instead, so only the loader's own options (custom_objects, compile...) go on.
        loader_options = {name: model_kwargs.pop(name) for name in _LOADER_OPTIONS if name in model_kwargs}
        if model_kwargs:
            logger.debug("%s.from_pretrained: ignoring %s", cls.__name__, sorted(model_kwargs))
        folder = _resolve_folder(
            model_id,
            revision=revision,
            force_download=force_download,
            token=token,
            cache_dir=cache_dir,
            local_files_only=local_files_only,
            proxies=proxies,
        )
        custom_objects = None
        if detect_layout(folder) != "saved_model":
            keras = _import_keras3()
            if issubclass(cls, keras.Model):
                custom_objects = {keras.saving.get_registered_name(cls): cls}
        model = _load_from_folder(folder, custom_objects, **loader_options)
        # Keras rebuilt the instance from its own config (name, dtype... included): keep the saved config.json
        # as the mixin config, so that a later save_pretrained writes the same file again.
        config_path = folder / CONFIG_NAME
        if config_path.is_file() and detect_layout(folder) != "keras_dir":
            object.__setattr__(
                model, "_hub_mixin_config", json.loads(config_path.read_text(encoding="utf-8"))
            )
            model.__dict__.pop("_hub_mixin_skipped_args", None)
        if not isinstance(model, cls):
            logger.warning(
                "%s.from_pretrained(%r) loaded a %s, not a %s: the saved model is of another class",
                cls.__name__,
                model_id,
                type(model).__name__,
                cls.__name__,
            )
        return model
