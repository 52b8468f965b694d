"""Torch state-dict serialization: safetensors files, shards + index, shared tensors, lean loading.

Names, parameters and the shard-index format follow ``huggingface_hub.serialization``. Nothing here imports torch
at module import; the functions do.
"""

from ._base import MAX_SHARD_SIZE, StateDictSplit, parse_size_to_int, split_state_dict_into_shards_factory
from ._torch import (
    get_torch_storage_id,
    get_torch_storage_size,
    save_torch_model,
    save_torch_state_dict,
    split_torch_state_dict_into_shards,
)
from ._torch_load import load_state_dict_from_file, load_torch_model

__all__ = [
    "MAX_SHARD_SIZE",
    "StateDictSplit",
    "get_torch_storage_id",
    "get_torch_storage_size",
    "load_state_dict_from_file",
    "load_torch_model",
    "parse_size_to_int",
    "save_torch_model",
    "save_torch_state_dict",
    "split_state_dict_into_shards_factory",
    "split_torch_state_dict_into_shards",
]
