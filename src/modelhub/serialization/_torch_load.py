"""Loading torch checkpoints (single file, sharded with an index, safetensors or legacy pickle) into models.

The engine writes each checkpoint tensor straight into the model's existing parameter / buffer memory: no
intermediate state dict, so loading holds one copy of the weights. Tied parameters are filled once and stay tied.
Keys are checked before anything is written: ``strict=True`` mismatches and shape mismatches raise with the full
list and leave the model untouched. Models whose modules customise state-dict loading (``_load_from_state_dict``
overrides, load hooks, extra state) go through ``Module.load_state_dict`` so those hooks keep their meaning.
"""

from __future__ import annotations

import json
import logging
import os
from collections import namedtuple
from collections.abc import Sequence
from pathlib import Path, PureWindowsPath
from typing import TYPE_CHECKING, Any

from ..constants import PYTORCH_WEIGHTS_FILE_PATTERN, SAFETENSORS_WEIGHTS_FILE_PATTERN
from ..errors import CorruptedCheckpointError
from ._safetensors_io import SafetensorsFile, require_torch

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

MAX_INDEX_FILE_SIZE = 100_000_000


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """``(missing_keys, unexpected_keys)`` as ``torch.nn.Module.load_state_dict`` returns them."""

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


# ---------------------------------------------------------------------------------------------- sources
class SafetensorsSource:
    """Tensors of one or more validated safetensors files (the shards of one checkpoint)."""

    def __init__(self, paths: Sequence[str | os.PathLike[str]]) -> None:
        self.files = [SafetensorsFile(path) for path in paths]  # every header validated before any read
        self._where: dict[str, SafetensorsFile] = {}
        for file in self.files:
            for key in file.entries:
                self._where[key] = file
        self._fds: dict[Path, int] = {}

    def keys(self) -> list[str]:
        return list(self._where)

    def shape(self, key: str) -> tuple[int, ...]:
        return self._where[key].entries[key].shape

    def _fd(self, file: SafetensorsFile) -> int:
        if file.path not in self._fds:
            self._fds[file.path] = os.open(file.path, os.O_RDONLY)
        return self._fds[file.path]

    def read_into(self, key: str, target: torch.Tensor) -> None:
        from ._safetensors_io import torch_dtype

        file = self._where[key]
        direct = (
            target.device.type == "cpu"
            and target.is_contiguous()
            and target.dtype == torch_dtype(file.entries[key].dtype)
            and _wrapper_free(target)
        )
        if direct:
            file.read_into(self._fd(file), key, target)
        else:  # dtype cast, other device or layout: one temporary tensor, then copy_
            target.copy_(file.load_tensor(self._fd(file), key))

    def load(self, key: str) -> torch.Tensor:
        file = self._where[key]
        return file.load_tensor(self._fd(file), key)

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()


class StateDictSource:
    """Tensors of an in-memory (or memory-mapped) state dict, e.g. from a legacy pickle checkpoint."""

    def __init__(self, state_dict: dict[str, Any]) -> None:
        self.state_dict = state_dict

    def keys(self) -> list[str]:
        return list(self.state_dict)

    def shape(self, key: str) -> tuple[int, ...]:
        value = self.state_dict[key]
        return tuple(value.shape) if hasattr(value, "shape") else ()

    def read_into(self, key: str, target: torch.Tensor) -> None:
        target.copy_(self.state_dict[key])

    def load(self, key: str) -> Any:
        return self.state_dict[key]

    def close(self) -> None:
        self.state_dict = {}


def _wrapper_free(tensor: torch.Tensor) -> bool:
    import torch

    return type(tensor) in (torch.Tensor, torch.nn.Parameter) or isinstance(tensor, torch.nn.Parameter)


# ---------------------------------------------------------------------------------------------- the engine
def _customises_loading(model: torch.nn.Module) -> bool:
    """True when some module has its own state-dict loading logic that a direct write would bypass."""
    import torch
    from torch.nn.modules.batchnorm import _NormBase

    base_load = torch.nn.Module._load_from_state_dict
    base_extra = torch.nn.Module.get_extra_state
    for module in model.modules():
        cls = type(module)
        if cls._load_from_state_dict is not base_load and not isinstance(module, _NormBase):
            return True
        if cls.get_extra_state is not base_extra:
            return True
        if getattr(module, "_load_state_dict_pre_hooks", None) or getattr(
            module, "_load_state_dict_post_hooks", None
        ):
            return True
    return False


def _group_key(tensor: torch.Tensor) -> tuple:
    if tensor.device.type == "meta" or tensor.numel() == 0:  # no memory to compare: only identity ties them
        return ("identity", id(tensor))
    return (tensor.device, tensor.data_ptr(), tuple(tensor.shape), tuple(tensor.stride()), tensor.dtype)


def _key_error(
    model: torch.nn.Module, missing: list[str], unexpected: list[str], sizes: list[str]
) -> RuntimeError:
    lines = [f"Error(s) in loading state_dict for {type(model).__name__} (nothing was loaded):"]
    if missing:
        lines.append("\tMissing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
    if unexpected:
        lines.append("\tUnexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
    lines.extend(f"\t{line}" for line in sizes)
    if missing or unexpected:
        lines.append("\tPass strict=False to load the matching keys and keep the others as initialised.")
    return RuntimeError("\n".join(lines))


def plan_load(model: torch.nn.Module, checkpoint_keys: list[str]) -> tuple[list[str], list[str], set[str]]:
    """``(missing, unexpected, covered)`` for loading ``checkpoint_keys`` into ``model``; a tied name counts as
    covered when any name of its tie is in the checkpoint."""
    state = model.state_dict(keep_vars=True)
    present = set(checkpoint_keys)
    groups: dict[tuple, list[str]] = {}
    for name, tensor in state.items():
        if hasattr(tensor, "data_ptr"):
            groups.setdefault(_group_key(tensor), []).append(name)
    missing: list[str] = []
    covered: set[str] = set()
    for names in groups.values():
        if any(name in present for name in names):
            covered.update(names)
        else:
            missing.extend(names)
    unexpected = [key for key in checkpoint_keys if key not in state]
    return missing, unexpected, covered


def load_into_model(model: torch.nn.Module, source: Any, *, strict: bool = False) -> _IncompatibleKeys:
    """Load every tensor of ``source`` into ``model``'s matching parameter or buffer, in place."""
    import torch

    keys = source.keys()
    state = model.state_dict(keep_vars=True)
    missing, unexpected, _ = plan_load(model, keys)
    present = set(keys)
    sizes: list[str] = []
    targets: dict[tuple, tuple[str, torch.Tensor]] = {}
    for name, tensor in state.items():
        if name not in present or not hasattr(tensor, "data_ptr"):
            continue
        shape = tuple(source.shape(name))
        if shape != tuple(tensor.shape):
            sizes.append(
                f"size mismatch for {name}: copying a param with shape {torch.Size(shape)} from checkpoint, "
                f"the shape in current model is {tensor.shape}."
            )
            continue
        targets.setdefault(_group_key(tensor), (name, tensor))
    if sizes or (strict and (missing or unexpected)):
        raise _key_error(model, missing if strict else [], unexpected if strict else [], sizes)

    if _customises_loading(model):
        state_dict = {key: source.load(key) for key in keys}
        result = model.load_state_dict(state_dict, strict=strict)
        return _IncompatibleKeys(list(result.missing_keys), list(result.unexpected_keys))

    with torch.no_grad():
        for name, tensor in targets.values():
            source.read_into(name, tensor.data if isinstance(tensor, torch.nn.Parameter) else tensor)
    return _IncompatibleKeys(missing, unexpected)


# ---------------------------------------------------------------------------------------------- checkpoints
def read_shard_index(index_path: str | os.PathLike, expected_suffix: str) -> list[str]:
    """The shard file names listed by an index json, validated (relative, no '..', right extension)."""
    index_path = Path(index_path)
    if index_path.stat().st_size > MAX_INDEX_FILE_SIZE:
        raise CorruptedCheckpointError(
            f"Index {str(index_path)!r} is larger than {MAX_INDEX_FILE_SIZE} bytes."
        )
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptedCheckpointError(f"Index {str(index_path)!r} is not valid JSON: {exc}.") from None
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise CorruptedCheckpointError(
            f"Index {str(index_path)!r} must be an object with a 'weight_map' mapping tensor names to file names."
        )
    shards = sorted(set(weight_map.values()))
    for shard in shards:
        parsed = PureWindowsPath(shard)
        if parsed.drive or parsed.root or ".." in parsed.parts or shard.startswith("/"):
            raise CorruptedCheckpointError(
                f"Index {str(index_path)!r} names shard {shard!r}: shard names must be relative, without '..'."
            )
        if not shard.endswith(expected_suffix):
            raise CorruptedCheckpointError(
                f"Index {str(index_path)!r} names shard {shard!r}, expected a '{expected_suffix}' file."
            )
    return shards


def open_checkpoint(
    checkpoint_path: str | os.PathLike,
    *,
    safe: bool = True,
    weights_only: bool = True,
    mmap: bool = False,
    filename_pattern: str | None = None,
) -> SafetensorsSource | StateDictSource:
    """A source for a weights file or a directory holding a single-file or sharded checkpoint."""
    path = Path(checkpoint_path)
    if not path.exists():
        raise FileNotFoundError(f"Checkpoint path {str(path)!r} does not exist.")
    if path.is_file():
        if safe or _is_safetensors(path):
            return SafetensorsSource([_checked_safetensors(path, safe)])
        return StateDictSource(_torch_load(path, weights_only=weights_only, mmap=mmap))

    if filename_pattern is None:
        filename_pattern = SAFETENSORS_WEIGHTS_FILE_PATTERN
        index = path / (filename_pattern.format(suffix="") + ".index.json")
        if not index.is_file() and not safe and not (path / filename_pattern.format(suffix="")).is_file():
            filename_pattern = PYTORCH_WEIGHTS_FILE_PATTERN
    elif safe and not _is_safetensors(filename_pattern.format(suffix="")):
        raise ValueError(
            f"filename_pattern={filename_pattern!r} does not describe safetensors files but safe=True. Pass "
            "safe=False to allow pickle weights (loading a pickle can run arbitrary code)."
        )
    single = filename_pattern.format(suffix="")
    index_path = path / (single + ".index.json")
    if index_path.is_file():
        suffix = Path(single).suffix
        shards = [path / shard for shard in read_shard_index(index_path, suffix)]
        absent = [str(shard.name) for shard in shards if not shard.is_file()]
        if absent:
            raise FileNotFoundError(
                f"Shard(s) {absent} listed in {str(index_path)!r} are missing from {str(path)!r}."
            )
        if _is_safetensors(single):
            return SafetensorsSource(shards)
        merged: dict[str, Any] = {}
        for shard in shards:
            merged.update(_torch_load(shard, weights_only=weights_only, mmap=True))
        return StateDictSource(merged)
    if (path / single).is_file():
        candidates = [path / single]
    else:
        candidates = sorted(path.glob("*.safetensors"))
        if len(candidates) != 1 and not safe:
            candidates = sorted(path.glob("*.bin"))
    if len(candidates) == 1:
        return open_checkpoint(candidates[0], safe=safe, weights_only=weights_only, mmap=mmap)
    raise ValueError(
        f"Directory {str(path)!r} holds no checkpoint we can pick: expected {single} (or a sharded checkpoint with "
        f"{index_path.name}), or exactly one weights file."
    )


def _is_safetensors(path: str | os.PathLike) -> bool:
    return str(path).lower().endswith(".safetensors")


def _checked_safetensors(path: Path, safe: bool) -> Path:
    if safe and not _is_safetensors(path):
        try:
            SafetensorsFile(path)
        except CorruptedCheckpointError as exc:
            raise CorruptedCheckpointError(
                f"{exc} With safe=True only safetensors are loaded; pass safe=False to load a pickle checkpoint "
                "(it can run arbitrary code)."
            ) from None
    return path


def _torch_load(path: Path, *, weights_only: bool, mmap: bool, map_location: Any = "cpu") -> Any:
    import torch

    if not weights_only:
        logger.warning("Loading %s with weights_only=False: a pickle can run arbitrary code.", path)
    try:
        return torch.load(path, map_location=map_location, weights_only=weights_only, mmap=mmap)
    except RuntimeError as exc:
        if mmap and "mmap" in str(exc):  # legacy (non-zip) pickles cannot be memory-mapped
            return torch.load(path, map_location=map_location, weights_only=weights_only)
        raise


def load_torch_model(
    model: torch.nn.Module,
    checkpoint_path: str | os.PathLike,
    *,
    strict: bool = False,
    safe: bool = True,
    weights_only: bool = True,
    map_location: str | torch.device | None = None,
    mmap: bool = False,
    filename_pattern: str | None = None,
) -> _IncompatibleKeys:
    """Load a checkpoint (file, or directory with a single or sharded checkpoint) into ``model`` in place.

    Returns ``(missing_keys, unexpected_keys)``. With ``strict=True`` a mismatch raises before anything is
    written. ``safe=True`` (default) only reads safetensors; ``safe=False`` also accepts pickles (``.bin``).
    ``map_location`` only applies to pickles being read; tensors land on the model's own devices.
    """
    require_torch()
    source = open_checkpoint(
        checkpoint_path, safe=safe, weights_only=weights_only, mmap=mmap, filename_pattern=filename_pattern
    )
    try:
        return load_into_model(model, source, strict=strict)
    finally:
        source.close()


def load_state_dict_from_file(
    checkpoint_file: str | os.PathLike,
    map_location: str | torch.device | None = None,
    weights_only: bool = True,
    mmap: bool = False,
    *,
    safe: bool = True,
) -> dict[str, torch.Tensor] | Any:
    """Read a weights file into a state dict (``{name: tensor}``).

    Safetensors files are always read with the safetensors reader (``safe=True`` refuses anything else);
    with ``safe=False`` other files go through ``torch.load(weights_only=...)``. ``map_location`` moves the
    tensors ("meta" is not supported for safetensors: they stay on CPU).
    """
    require_torch()
    path = Path(checkpoint_file)
    if not path.is_file():
        raise FileNotFoundError(
            f"No checkpoint file at {str(path)!r}: check the path (and that it was downloaded)."
        )
    if safe or _is_safetensors(path):
        file = SafetensorsFile(_checked_safetensors(path, safe))
        fmt = (file.metadata or {}).get("format")
        if fmt is not None and fmt not in ("pt", "mlx"):
            raise OSError(
                f"{str(path)!r} holds safetensors of format {fmt!r}, not torch ('pt'); save it with "
                "save_torch_model / save_torch_state_dict."
            )
        fd = os.open(path, os.O_RDONLY)
        try:
            tensors = {key: file.load_tensor(fd, key) for key in file.entries}
        finally:
            os.close(fd)
        device = getattr(map_location, "type", map_location)
        if device not in (None, "cpu"):
            if str(device) == "meta":
                logger.warning("map_location='meta' is not supported for safetensors; tensors stay on CPU.")
            else:
                tensors = {key: tensor.to(map_location) for key, tensor in tensors.items()}
        return tensors
    return _torch_load(path, weights_only=weights_only, mmap=mmap, map_location=map_location)
