"""Saving torch state dicts: shared-tensor deduplication, sharding, safetensors (or legacy pickle) files + index.

``torch`` is imported inside the functions only.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..constants import PYTORCH_WEIGHTS_FILE_PATTERN, SAFETENSORS_WEIGHTS_FILE_PATTERN
from ._base import MAX_SHARD_SIZE, StateDictSplit, split_state_dict_into_shards_factory
from ._safetensors_io import require_torch, write_safetensors

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------- storage identity
def _wrapper_attrs(tensor: torch.Tensor) -> list[str] | None:
    """Inner tensor attribute names of a traceable wrapper subclass (e.g. DTensor-like), else None."""
    try:
        from torch.utils._python_dispatch import is_traceable_wrapper_subclass
    except ImportError:  # pragma: no cover - old torch
        return None
    if is_traceable_wrapper_subclass(tensor):
        attrs, _ = tensor.__tensor_flatten__()
        return list(attrs)
    return None


def _dtensor_class() -> Any:
    try:
        from torch.distributed.tensor import DTensor
    except ImportError:  # torch built without distributed support
        return None
    return DTensor


def _storage_ptr(tensor: torch.Tensor) -> Any:
    dtensor = _dtensor_class()
    if dtensor is not None and isinstance(tensor, dtensor):  # this rank's shard identifies it, as upstream
        return tensor.to_local().untyped_storage().data_ptr()
    attrs = _wrapper_attrs(tensor)
    if attrs is not None:
        return tuple(_storage_ptr(getattr(tensor, attr)) for attr in attrs)
    try:
        return tensor.untyped_storage().data_ptr()
    except (NotImplementedError, RuntimeError):  # meta / storage-less tensors
        return 0


def get_torch_storage_size(tensor: torch.Tensor) -> int:
    """Bytes of the storage behind ``tensor`` (the whole storage, not only the part the tensor views); for a
    DTensor, the bytes of the full (global) tensor, as upstream counts them."""
    dtensor = _dtensor_class()
    if dtensor is not None and isinstance(tensor, dtensor):
        return int(tensor.nbytes)
    attrs = _wrapper_attrs(tensor)
    if attrs is not None:
        return sum(get_torch_storage_size(getattr(tensor, attr)) for attr in attrs)
    try:
        return tensor.untyped_storage().nbytes()
    except (NotImplementedError, RuntimeError):
        return tensor.nelement() * tensor.element_size()


def get_torch_storage_id(tensor: torch.Tensor) -> tuple[Any, Any, int] | None:
    """``(device, storage pointer, storage size)``: equal for tensors sharing a storage, unique among live
    storages. ``None`` for meta tensors (they have no storage to compare)."""
    if tensor.device.type == "meta":
        return None
    return tensor.device, _storage_ptr(tensor), get_torch_storage_size(tensor)


# ---------------------------------------------------------------------------------------------- shared tensors
def _end_ptr(tensor: torch.Tensor) -> int:
    if tensor.nelement() == 0:
        return tensor.data_ptr()
    return tensor.view(-1)[-1].data_ptr() + tensor.element_size()


def _covers_storage(tensor: torch.Tensor) -> bool:
    """True when the tensor views its whole storage (so saving it alone loses nothing)."""
    return tensor.data_ptr() == _storage_ptr(
        tensor
    ) and tensor.nelement() * tensor.element_size() == get_torch_storage_size(tensor)


def _shared_groups(state_dict: dict[str, torch.Tensor]) -> list[list[str]]:
    """Groups of names whose memory overlaps (tied weights). Tensors that share a storage without overlapping
    (slices of one buffer) are not grouped: each is saved on its own."""
    by_storage: dict[Any, list[str]] = defaultdict(list)
    for name, tensor in state_dict.items():
        if tensor.device.type == "meta" or _wrapper_attrs(tensor) is not None:
            continue
        ptr = _storage_ptr(tensor)
        size = get_torch_storage_size(tensor)
        if ptr and size:
            by_storage[(tensor.device, ptr, size)].append(name)
    groups: list[list[str]] = []
    for names in by_storage.values():
        if len(names) < 2:
            continue
        spans = sorted((state_dict[n].data_ptr(), _end_ptr(state_dict[n]), n) for n in names)
        current = [spans[0][2]]
        stop = spans[0][1]
        for start, end, name in spans[1:]:
            if start < stop:
                current.append(name)
                stop = max(stop, end)
            else:
                if len(current) > 1:
                    groups.append(current)
                current, stop = [name], end
        if len(current) > 1:
            groups.append(current)
    return groups


def remove_shared_duplicates(
    state_dict: dict[str, torch.Tensor],
    metadata: dict[str, str],
    discard_names: list[str] | None = None,
) -> dict[str, torch.Tensor]:
    """A copy of ``state_dict`` keeping one name per group of tied tensors.

    The kept name views the whole storage and is, among such names, the first alphabetically that is not in
    ``discard_names``. Each dropped name is recorded in ``metadata`` as ``dropped -> kept`` (user keys win).
    When no name covers the whole storage (overlapping partial views), all are kept and saved as separate copies.
    """
    discard = set(discard_names or [])
    result = dict(state_dict)
    for group in _shared_groups(state_dict):
        complete = sorted(name for name in group if _covers_storage(state_dict[name]))
        if not complete:
            logger.warning(
                "Tensors %s overlap in memory but none covers the whole storage: saving each as its own copy "
                "(they will not be tied after loading).",
                sorted(group),
            )
            continue
        preferred = [name for name in complete if name not in discard]
        keep = (preferred or complete)[0]
        for name in sorted(group):
            if name != keep:
                metadata.setdefault(name, keep)
                del result[name]
    return result


# ---------------------------------------------------------------------------------------------- saving
def split_torch_state_dict_into_shards(
    state_dict: dict[str, torch.Tensor],
    *,
    filename_pattern: str = SAFETENSORS_WEIGHTS_FILE_PATTERN,
    max_shard_size: int | str = MAX_SHARD_SIZE,
) -> StateDictSplit:
    """Plan the shards of a torch state dict (see ``split_state_dict_into_shards_factory``); tensors sharing a
    storage are counted once and placed together."""
    return split_state_dict_into_shards_factory(
        state_dict,
        max_shard_size=max_shard_size,
        filename_pattern=filename_pattern,
        get_storage_size=get_torch_storage_size,
        get_storage_id=get_torch_storage_id,
    )


def save_torch_model(
    model: torch.nn.Module,
    save_directory: str | Path,
    *,
    filename_pattern: str | None = None,
    force_contiguous: bool = True,
    max_shard_size: int | str = MAX_SHARD_SIZE,
    metadata: dict[str, str] | None = None,
    safe_serialization: bool = True,
    is_main_process: bool = True,
    shared_tensors_to_discard: list[str] | None = None,
) -> None:
    """Save ``model.state_dict()`` with :func:`save_torch_state_dict`."""
    save_torch_state_dict(
        model.state_dict(),
        save_directory,
        filename_pattern=filename_pattern,
        force_contiguous=force_contiguous,
        max_shard_size=max_shard_size,
        metadata=metadata,
        safe_serialization=safe_serialization,
        is_main_process=is_main_process,
        shared_tensors_to_discard=shared_tensors_to_discard,
    )


def save_torch_state_dict(
    state_dict: dict[str, torch.Tensor],
    save_directory: str | Path,
    *,
    filename_pattern: str | None = None,
    force_contiguous: bool = True,
    max_shard_size: int | str = MAX_SHARD_SIZE,
    metadata: dict[str, str] | None = None,
    safe_serialization: bool = True,
    is_main_process: bool = True,
    shared_tensors_to_discard: list[str] | None = None,
) -> None:
    """Save a state dict as one file or as shards + an index, in ``save_directory``.

    - Tied tensors are stored once (the dropped names are recorded in the metadata) - loading restores the tie
      when the model ties them.
    - Above ``max_shard_size`` (bytes or ``"5GB"``-style), tensors go to ``model-0000k-of-0000n.safetensors``
      files and ``model.safetensors.index.json`` (``{"metadata": {"total_size": ...}, "weight_map": {...}}``).
    - Files are written to temporary names and renamed, then stale files of an earlier save with the same
      ``filename_pattern`` are removed; an interrupted save leaves the previous checkpoint readable.
    - ``safe_serialization=False`` writes pickles (``pytorch_model*.bin``) with ``torch.save``.
    - ``is_main_process=False`` (other ranks of a distributed run) writes but leaves stale-file cleanup to the
      main process.
    ``force_contiguous`` is accepted for compatibility: tensors are always written contiguously.
    """
    require_torch()
    save_directory = Path(save_directory)
    save_directory.mkdir(parents=True, exist_ok=True)
    if filename_pattern is None:
        filename_pattern = (
            SAFETENSORS_WEIGHTS_FILE_PATTERN if safe_serialization else PYTORCH_WEIGHTS_FILE_PATTERN
        )
    metadata = dict(metadata or {})
    if safe_serialization:
        state_dict = remove_shared_duplicates(state_dict, metadata, shared_tensors_to_discard)
    else:
        logger.warning(
            "Saving weights as pickle (safe_serialization=False): loading a pickle can run arbitrary code. "
            "Prefer safetensors to share models."
        )
    split = split_torch_state_dict_into_shards(
        state_dict, filename_pattern=filename_pattern, max_shard_size=max_shard_size
    )
    file_metadata = {"format": "pt"}
    if not split.is_sharded:
        file_metadata.update(metadata)
    for filename, names in split.filename_to_tensors.items():
        shard = {name: state_dict[name] for name in names}
        target = save_directory / filename
        if safe_serialization:
            write_safetensors(target, shard, file_metadata)
        else:
            _torch_save_atomic(shard, target)
        logger.debug("Wrote %s (%d tensors)", target, len(names))

    index_name = filename_pattern.format(suffix="") + ".index.json"
    keep = set(split.filename_to_tensors)
    if split.is_sharded:
        index = {"metadata": {**split.metadata, **metadata}, "weight_map": split.tensor_to_filename}
        tmp = save_directory / f".{index_name}.tmp-{os.getpid()}"
        tmp.write_text(json.dumps(index, indent=2), encoding="utf-8")
        os.replace(tmp, save_directory / index_name)
        keep.add(index_name)
        logger.info(
            "Weights above %s: saved in %d shards, index in %s.",
            max_shard_size,
            len(split.filename_to_tensors),
            index_name,
        )
    if is_main_process:  # in distributed runs every process writes (atomically); one cleans up
        _remove_stale_files(save_directory, filename_pattern, keep=keep)


def _torch_save_atomic(tensors: dict[str, torch.Tensor], target: Path) -> None:
    import torch

    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        torch.save({k: v.detach().contiguous() for k, v in tensors.items()}, tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _remove_stale_files(directory: Path, filename_pattern: str, keep: set[str]) -> None:
    """Delete weight files (and index) of a previous save with this pattern that this save did not write."""
    prefix, _, suffix = filename_pattern.partition("{suffix}")
    stale = re.compile(re.escape(prefix) + r"(-\d{5}-of-\d{5})?" + re.escape(suffix) + r"(\.index\.json)?")
    for name in os.listdir(directory):
        if name not in keep and stale.fullmatch(name):
            try:
                os.remove(directory / name)
                logger.debug("Removed stale %s", name)
            except OSError as exc:
                logger.warning("Could not remove stale weights file %s: %s", directory / name, exc)
