"""Framework-free sharding: split a state dict into files below a size limit.

The plan (which tensor goes to which file) is computed from sizes only; writing the files is the framework
module's job. File names and the index layout follow the convention transformers reads:
``model-00001-of-00003.safetensors`` and ``model.safetensors.index.json`` with ``metadata.total_size`` and
``weight_map``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

TensorT = TypeVar("TensorT")

MAX_SHARD_SIZE = "5GB"
SIZE_UNITS = {"TB": 10**12, "GB": 10**9, "MB": 10**6, "KB": 10**3}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]B)\s*$", re.IGNORECASE)


@dataclass
class StateDictSplit:
    """Where each tensor goes. ``is_sharded`` is true when there is more than one file (then an index is due)."""

    is_sharded: bool = field(init=False)
    metadata: dict[str, Any]
    filename_to_tensors: dict[str, list[str]]
    tensor_to_filename: dict[str, str]

    def __post_init__(self) -> None:
        self.is_sharded = len(self.filename_to_tensors) > 1


def parse_size_to_int(size_as_str: str) -> int:
    """``"5GB"`` -> 5_000_000_000 (decimal units KB, MB, GB, TB; ``"1.5GB"`` allowed)."""
    match = _SIZE_RE.match(size_as_str)
    if not match:
        raise ValueError(
            f"Invalid size {size_as_str!r}: expected a number followed by KB, MB, GB or TB, e.g. '5GB' or '500MB'."
        )
    return int(float(match.group(1)) * SIZE_UNITS[match.group(2).upper()])


def split_state_dict_into_shards_factory(
    state_dict: dict[str, TensorT],
    *,
    get_storage_size: Callable[[TensorT], int],
    filename_pattern: str,
    get_storage_id: Callable[[TensorT], Any | None] = lambda tensor: None,
    max_shard_size: int | str = MAX_SHARD_SIZE,
) -> StateDictSplit:
    """Split ``state_dict`` into shards of at most ``max_shard_size`` bytes, in key order (greedy, no reordering).

    Tensors sharing a storage (same ``get_storage_id``) are counted once and kept in the same shard. A tensor
    larger than the limit gets a shard of its own. ``filename_pattern`` must contain ``{suffix}``.
    """
    if "{suffix}" not in filename_pattern:
        raise ValueError(f"filename_pattern {filename_pattern!r} must contain '{{suffix}}'.")
    limit = parse_size_to_int(max_shard_size) if isinstance(max_shard_size, str) else int(max_shard_size)
    if limit <= 0:
        raise ValueError(f"max_shard_size must be positive, got {max_shard_size!r}.")

    shards: list[dict[str, TensorT]] = []
    current: dict[str, TensorT] = {}
    current_size = 0
    total_size = 0
    followers: dict[Any, list[str]] = {}  # storage id -> keys sharing the first key's storage
    first_key: dict[Any, str] = {}

    for key, tensor in state_dict.items():
        if isinstance(tensor, str):  # bitsandbytes puts strings in state dicts; they are not tensors
            logger.info("Skipping %s: a string, not a tensor.", key)
            continue
        storage_id = get_storage_id(tensor)
        if storage_id is not None:
            if storage_id in first_key:
                followers.setdefault(storage_id, []).append(key)
                continue
            first_key[storage_id] = key
        size = get_storage_size(tensor)
        total_size += size
        if size > limit:
            shards.append({key: tensor})
            continue
        if current and current_size + size > limit:
            shards.append(current)
            current, current_size = {}, 0
        current[key] = tensor
        current_size += size
    if current:
        shards.append(current)

    for storage_id, keys in followers.items():
        owner = first_key[storage_id]
        for shard in shards:
            if owner in shard:
                for key in keys:
                    shard[key] = state_dict[key]
                break

    if len(shards) <= 1:
        filename = filename_pattern.format(suffix="")
        keys = list(shards[0]) if shards else []
        return StateDictSplit(
            metadata={"total_size": total_size},
            filename_to_tensors={filename: keys},
            tensor_to_filename=dict.fromkeys(keys, filename),
        )
    count = len(shards)
    filename_to_tensors: dict[str, list[str]] = {}
    tensor_to_filename: dict[str, str] = {}
    for index, shard in enumerate(shards, start=1):
        filename = filename_pattern.format(suffix=f"-{index:05d}-of-{count:05d}")
        filename_to_tensors[filename] = list(shard)
        for key in shard:
            tensor_to_filename[key] = filename
    return StateDictSplit(
        metadata={"total_size": total_size},
        filename_to_tensors=filename_to_tensors,
        tensor_to_filename=tensor_to_filename,
    )
