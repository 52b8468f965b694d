"""PyTorchModelHubMixin: ModelHubMixin for ``torch.nn.Module`` models, with safetensors weights.

Beyond the upstream mixin: sharded checkpoints above ``max_shard_size`` (``model-0000k-of-0000n.safetensors`` +
``model.safetensors.index.json``), and a lean ``from_pretrained``: the model is built without initialising the
parameters the checkpoint will overwrite, and the weights are read straight into the parameters (one copy of the
weights in memory, no random-init cost). When the checkpoint does not cover every parameter, the model is built
normally instead, so missing keys keep exactly the values the model's own initialisation gives them.
"""

from __future__ import annotations

import contextvars
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..constants import (
    DEFAULT_MAX_SHARD_SIZE,
    PYTORCH_WEIGHTS_INDEX_FILE,
    PYTORCH_WEIGHTS_NAME,
    SAFETENSORS_INDEX_FILE,
    SAFETENSORS_SINGLE_FILE,
)
from . import _hub
from .base import ModelHubMixin

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

T = TypeVar("T", bound="PyTorchModelHubMixin")

# The files of a safetensors save (single file, shards, index): replaced as a whole by each push.
_SAFETENSORS_WEIGHT_PATTERNS = (
    SAFETENSORS_SINGLE_FILE,
    "model-*-of-*.safetensors",
    SAFETENSORS_INDEX_FILE,
)

# Options of the save in progress (set by save_pretrained / push_to_hub, read by _save_pretrained, whose
# signature stays the upstream one so that subclasses overriding it keep working).
_SAVE_OPTIONS: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "modelhub_torch_save_options", default=None
)


class PyTorchModelHubMixin(ModelHubMixin):
    """Hub mixin for ``torch.nn.Module`` subclasses: ``class MyModel(nn.Module, PyTorchModelHubMixin): ...``.

    ``save_pretrained`` writes ``model.safetensors`` (or shards + index above ``max_shard_size``), ``config.json``
    and a model card; ``from_pretrained(..., map_location="cpu", strict=False)`` returns the model in eval mode.
    Tied parameters are stored once and come back tied. A DataParallel-style wrapper (all weights under
    ``self.module``) is saved unwrapped. Legacy ``pytorch_model.bin`` checkpoints load with ``weights_only=True``.
    """

    def __init_subclass__(cls, *args: Any, tags: list[str] | str | None = None, **kwargs: Any) -> None:
        tags = [tags] if isinstance(tags, str) else list(tags or [])
        tags.append("pytorch_model_hub_mixin")
        super().__init_subclass__(*args, tags=tags, **kwargs)

    # ------------------------------------------------------------------ saving
    def save_pretrained(
        self, save_directory: str | Path, *, max_shard_size: int | str | None = None, **kwargs: Any
    ) -> Any:
        """Like ``ModelHubMixin.save_pretrained``; ``max_shard_size`` (bytes or ``"500MB"``, default ``"5GB"``)
        splits bigger weights into shards."""
        token = _SAVE_OPTIONS.set(_merged_options(max_shard_size))
        try:
            return super().save_pretrained(save_directory, **kwargs)
        finally:
            _SAVE_OPTIONS.reset(token)

    def push_to_hub(self, repo_id: str, *, max_shard_size: int | str | None = None, **kwargs: Any) -> Any:
        """Like ``ModelHubMixin.push_to_hub``; ``max_shard_size`` as in ``save_pretrained``.

        The commit replaces the repo's safetensors weights: a single file or shards of an earlier push that this
        save does not write again are deleted in the same commit (else a stale ``model.safetensors`` would win
        over new shards on load). Not when ``allow_patterns`` / ``ignore_patterns`` select what is uploaded.
        """
        if kwargs.get("allow_patterns") is None and kwargs.get("ignore_patterns") is None:
            requested = kwargs.get("delete_patterns")
            requested = [requested] if isinstance(requested, str) else list(requested or [])
            kwargs["delete_patterns"] = requested + list(_SAFETENSORS_WEIGHT_PATTERNS)
        token = _SAVE_OPTIONS.set(_merged_options(max_shard_size))
        try:
            return super().push_to_hub(repo_id, **kwargs)
        finally:
            _SAVE_OPTIONS.reset(token)

    def _save_pretrained(self, save_directory: Path) -> None:
        """Write the weights as safetensors (tied tensors once, sharded above ``max_shard_size``)."""
        from ..serialization import save_torch_state_dict

        options = _SAVE_OPTIONS.get() or {}
        model = _unwrap_for_save(self)
        save_torch_state_dict(
            model.state_dict(),
            save_directory,
            max_shard_size=options.get("max_shard_size") or DEFAULT_MAX_SHARD_SIZE,
        )

    # ------------------------------------------------------------------ loading
    @classmethod
    def _from_pretrained(
        cls: type[T],
        *,
        model_id: str,
        revision: str | None,
        cache_dir: str | Path | None,
        force_download: bool,
        local_files_only: bool,
        token: str | bool | None,
        map_location: str | torch.device = "cpu",
        strict: bool = False,
        proxies: dict | None = None,
        **model_kwargs: Any,
    ) -> T:
        """Find the weights (local directory or repo), build the model and load them into it."""
        from ..serialization._safetensors_io import require_torch

        require_torch()
        kind, files = _weight_files(
            model_id,
            revision=revision,
            cache_dir=cache_dir,
            force_download=force_download,
            proxies=proxies,
            token=token,
            local_files_only=local_files_only,
        )
        return cls._build_and_load(
            kind, files, map_location=map_location, strict=strict, model_kwargs=model_kwargs
        )

    @classmethod
    def _build_and_load(
        cls: type[T],
        kind: str,
        files: list[str],
        *,
        map_location: str | torch.device,
        strict: bool,
        model_kwargs: dict[str, Any],
    ) -> T:
        import torch

        from ..serialization._torch_load import plan_load
        from ._torch_init import skip_parameter_init

        source = _open_source(kind, files)  # headers validated here: a corrupt file fails before any build
        try:
            keys = source.keys()
            rng_state = torch.random.get_rng_state()
            with skip_parameter_init() as skipped:
                model = cls(**model_kwargs)
            target = _load_target(model, keys)
            missing, _, covered = plan_load(target, keys)
            uncovered = [
                name
                for name, param in target.named_parameters(remove_duplicate=False)
                if param in skipped and name not in covered
            ]
            # (with strict=True, uncovered keys make the load fail below; no point in rebuilding for them)
            rebuild = uncovered if not strict else []
            rebuild += [
                f"<parameter of shape {tuple(p.shape)} held outside the model>" for p in skipped.stray(model)
            ]
            rebuild += [f"<a skipped parameter's values read by {op} in __init__>" for op in skipped.read]
            # If __init__ drew random numbers besides the skipped initialisations, it drew them from another point
            # of the stream than a plain construction does: what survives the load (non-persistent buffers, keys
            # missing from the checkpoint) would differ from a plain construction's values.
            drew_random = len(skipped) > 0 and not torch.equal(torch.random.get_rng_state(), rng_state)
            if drew_random and ((missing and not strict) or _has_non_persistent_buffers(model)):
                rebuild.append("<random values drawn in __init__ besides parameter initialisation>")
            skipped.clear()
            if rebuild:
                # Some parameters get no value from the checkpoint: build the model the normal way (same RNG
                # state as the first attempt) so that they hold their regular initial values.
                logger.info(
                    "%d parameter(s) get no value from the checkpoint (e.g. %s): building %s with full initialisation.",
                    len(rebuild),
                    rebuild[0],
                    cls.__name__,
                )
                del model, target
                torch.random.set_rng_state(rng_state)
                model = cls(**model_kwargs)
                target = _load_target(model, keys)
            result = _load_into(target, source, strict=strict)
        finally:
            source.close()
        if result.missing_keys:
            logger.warning(
                "%s: keys missing from the checkpoint (kept as initialised): %s", cls.__name__, result[0]
            )
        if result.unexpected_keys:
            logger.warning(
                "%s: checkpoint keys not used by the model: %s", cls.__name__, result.unexpected_keys
            )
        return _finish(model, map_location)

    @classmethod
    def _load_as_safetensor(cls, model: T, model_file: str, map_location: str, strict: bool) -> T:
        """Load a safetensors file into an existing model (upstream helper, kept for subclasses calling it)."""
        return _load_file_into(model, "safetensors", model_file, map_location=map_location, strict=strict)

    @classmethod
    def _load_as_pickle(cls, model: T, model_file: str, map_location: str, strict: bool) -> T:
        """Load a ``pytorch_model.bin`` into an existing model (upstream helper), with ``weights_only=True``."""
        return _load_file_into(model, "pickle", model_file, map_location=map_location, strict=strict)


# ---------------------------------------------------------------------------------------------- helpers
def _merged_options(max_shard_size: int | str | None) -> dict[str, Any]:
    options = dict(_SAVE_OPTIONS.get() or {})
    if max_shard_size is not None:
        options["max_shard_size"] = max_shard_size
    return options


def _is_wrapper(model: Any) -> bool:
    """A DataParallel-style wrapper: a ``module`` submodule holding every weight of the model."""
    import torch

    inner = getattr(model, "module", None)
    if not isinstance(inner, torch.nn.Module) or inner is model:
        return False
    keys = list(model.state_dict(keep_vars=True))
    return bool(keys) and all(key.startswith("module.") for key in keys)


def _unwrap_for_save(model: Any) -> Any:
    return model.module if _is_wrapper(model) else model


def _load_target(model: Any, checkpoint_keys: list[str]) -> Any:
    """The module to load into: the wrapped ``module`` when the checkpoint was saved unwrapped."""
    if _is_wrapper(model) and not any(key.startswith("module.") for key in checkpoint_keys):
        return model.module
    return model


def _load_into(target: Any, source: Any, *, strict: bool) -> Any:
    from ..serialization._torch_load import load_into_model

    return load_into_model(target, source, strict=strict)


def _has_non_persistent_buffers(model: Any) -> bool:
    return any(module._non_persistent_buffers_set for module in model.modules())


def _load_file_into(model: Any, kind: str, model_file: str, *, map_location: Any, strict: bool) -> Any:
    source = _open_source(kind, [model_file])
    try:
        _load_into(_load_target(model, source.keys()), source, strict=strict)
    finally:
        source.close()
    return _finish(model, map_location)


def _finish(model: Any, map_location: Any) -> Any:
    import torch

    device = torch.device(map_location) if map_location is not None else torch.device("cpu")
    if device.type != "cpu":
        model.to(device)
    model.eval()
    return model


def _open_source(kind: str, files: list[str]) -> Any:
    from ..serialization._torch_load import SafetensorsSource, StateDictSource, _torch_load

    if kind == "safetensors":
        return SafetensorsSource(list(files))
    state_dict: dict[str, Any] = {}
    for file in files:
        state_dict.update(_torch_load(Path(file), weights_only=True, mmap=True))
    return StateDictSource(state_dict)


def _weight_files(model_id: str, **hub_kwargs: Any) -> tuple[str, list[str]]:
    """``("safetensors" | "pickle", [paths])`` for a local directory or a repo id (files downloaded as needed).

    Looked for in order: ``model.safetensors``, ``model.safetensors.index.json`` + its shards,
    ``pytorch_model.bin``, ``pytorch_model.bin.index.json`` + its shards.
    """
    from ..serialization._torch_load import read_shard_index

    layouts = (
        ("safetensors", SAFETENSORS_SINGLE_FILE, False),
        ("safetensors", SAFETENSORS_INDEX_FILE, True),
        ("pickle", PYTORCH_WEIGHTS_NAME, False),
        ("pickle", PYTORCH_WEIGHTS_INDEX_FILE, True),
    )
    local = os.path.isdir(model_id)
    for kind, filename, sharded in layouts:
        if local:
            path = os.path.join(model_id, filename)
            if not os.path.isfile(path):
                continue
        else:
            remote = _hub.hub_file_or_none(model_id, filename, **hub_kwargs)
            if remote is None:
                continue
            path = remote
        if not sharded:
            return kind, [path]
        suffix = ".safetensors" if kind == "safetensors" else ".bin"
        shards = read_shard_index(path, suffix)
        if local:
            paths = [os.path.join(model_id, shard) for shard in shards]
            absent = [shard for shard, p in zip(shards, paths, strict=True) if not os.path.isfile(p)]
            if absent:
                raise FileNotFoundError(f"{model_id!r}: shard(s) {absent} listed in {filename} are missing.")
        else:
            paths = [_hub.hub_file(model_id, shard, **hub_kwargs) for shard in shards]
        return kind, paths
    names = ", ".join(layout[1] for layout in layouts)
    if local:
        raise FileNotFoundError(f"No weights in directory {model_id!r}: expected one of {names}.")
    from ..errors import EntryNotFoundError

    where = f" at revision {hub_kwargs.get('revision')!r}" if hub_kwargs.get("revision") else ""
    offline = (
        " (not in the local cache: local_files_only/offline)" if hub_kwargs.get("local_files_only") else ""
    )
    raise EntryNotFoundError(f"No weights in repo {model_id!r}{where}{offline}: expected one of {names}.")
