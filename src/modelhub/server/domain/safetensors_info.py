"""What a ``.safetensors`` file holds, read from its header only (8-byte length + JSON), never the tensor data.

Also the sharded layout: ``model.safetensors.index.json`` maps each tensor to the shard file that holds it.
Headers are content-addressed facts (cached by the blob's SHA-256 in ``caches.derived``)."""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field
from typing import Any

from ..caches import LRU
from .content import ContentSource
from .trees import FileTree

MAX_HEADER = 100 * 1024 * 1024  # the format's own limit (safetensors refuses bigger headers)
MAX_INDEX = 16 * 1024 * 1024
DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1, "F4": 0.5, "F6_E2M3": 0.75,
    "F6_E3M2": 0.75, "I16": 2, "U16": 2, "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8,
    "U64": 8, "F64": 8, "C64": 8,
}  # fmt: skip


class SafetensorsError(ValueError):
    """The file is not a readable safetensors file (the message says why)."""


@dataclass(frozen=True)
class Tensor:
    name: str
    dtype: str
    shape: tuple[int, ...]
    shard: str = ""

    @property
    def params(self) -> int:
        return math.prod(self.shape)


@dataclass
class TensorTable:
    """The tensors of a file (or of all the shards of an index), with totals."""

    tensors: list[Tensor]
    metadata: dict[str, str] = field(default_factory=dict)
    shards: list[str] = field(default_factory=list)
    missing_shards: list[str] = field(default_factory=list)

    @property
    def total_params(self) -> int:
        return sum(t.params for t in self.tensors)

    def params_by_dtype(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for t in self.tensors:
            out[t.dtype] = out.get(t.dtype, 0) + t.params
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _read_exact(blobs: ContentSource, sha256: str, start: int, length: int) -> bytes:
    data = b"".join(blobs.iter_range(sha256, start, start + length))
    if len(data) != length:
        raise SafetensorsError("the file ends inside its header")
    return data


def read_header(
    blobs: ContentSource, sha256: str, size: int, cache: LRU[Any, Any] | None = None
) -> TensorTable:
    """The tensor table of one safetensors blob (``size``: its size from the tree)."""
    key = ("safetensors", sha256)
    hit = cache.get(key) if cache is not None else None
    if hit is not None:
        return hit
    if size < 8:
        raise SafetensorsError("the file is shorter than the 8-byte header length")
    (length,) = struct.unpack("<Q", _read_exact(blobs, sha256, 0, 8))
    if length > MAX_HEADER or length > size - 8:
        raise SafetensorsError(
            f"its header length ({length} bytes) is larger than the format allows or the file"
        )
    try:
        raw = json.loads(_read_exact(blobs, sha256, 8, length))
    except (ValueError, UnicodeDecodeError) as exc:
        raise SafetensorsError(f"its header is not JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise SafetensorsError("its header is not a JSON object")
    meta = raw.pop("__metadata__", None)
    tensors = []
    for name, info in raw.items():
        if not isinstance(info, dict) or not isinstance(info.get("shape"), list):
            raise SafetensorsError(f"tensor {name[:100]!r} has no shape")
        shape = info["shape"]
        if not all(isinstance(d, int) and d >= 0 for d in shape):
            raise SafetensorsError(f"tensor {name[:100]!r} has an invalid shape")
        tensors.append(Tensor(str(name), str(info.get("dtype", "?")), tuple(shape)))
    tensors.sort(key=lambda t: _natural(t.name))
    metadata = {str(k): str(v) for k, v in meta.items()} if isinstance(meta, dict) else {}
    table = TensorTable(tensors, metadata)
    if cache is not None:
        cache.put(key, table)
    return table


def read_index(
    blobs: ContentSource, tree: FileTree, path: str, cache: LRU[Any, Any] | None = None
) -> TensorTable:
    """The combined table of a sharded checkpoint, from its ``*.safetensors.index.json`` at ``path`` and the
    headers of the shards it names (in the same folder of the same tree)."""
    entry = tree[path]
    if entry.size > MAX_INDEX:
        raise SafetensorsError(f"the index is larger than {MAX_INDEX} bytes")
    try:
        index = json.loads(b"".join(blobs.iter_range(entry.sha256)))
    except (ValueError, UnicodeDecodeError) as exc:
        raise SafetensorsError(f"the index is not JSON ({exc})") from None
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict):
        raise SafetensorsError("the index has no 'weight_map' object")
    folder = path.rsplit("/", 1)[0] + "/" if "/" in path else ""
    shards = sorted({str(s) for s in weight_map.values()}, key=_natural)
    tensors: list[Tensor] = []
    missing = []
    for shard in shards:
        shard_entry = tree.get(folder + shard)
        if shard_entry is None:
            missing.append(shard)
            continue
        wanted = {n for n, s in weight_map.items() if s == shard}
        for t in read_header(blobs, shard_entry.sha256, shard_entry.size, cache).tensors:
            if t.name in wanted:
                tensors.append(Tensor(t.name, t.dtype, t.shape, shard))
    tensors.sort(key=lambda t: _natural(t.name))
    meta = index.get("metadata")
    metadata = {str(k): str(v) for k, v in meta.items()} if isinstance(meta, dict) else {}
    return TensorTable(tensors, metadata, shards, missing)


def _natural(name: str) -> list[tuple[int, int, str]]:
    """``layers.10`` after ``layers.9``: digit parts compare as numbers (and before words)."""
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in name.replace("-", ".").split(".")]
