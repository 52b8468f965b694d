"""Our own safetensors reader and writer for torch tensors.

Why not ``safetensors.torch``: its ``save_file`` copies every tensor into a Python ``bytes`` first and its loader
materialises a fresh tensor per entry, which ``load_state_dict`` then copies again. Here a file is written straight
from the tensors' memory, and read straight into the destination tensors (``readinto``), so a load holds one copy of
the weights. The format: 8-byte little-endian header length, a JSON header (``{name: {dtype, shape,
data_offsets}}`` + optional ``__metadata__``) padded with spaces to 8 bytes, then the raw little-endian data.

Every header is validated against the file size before anything is read, so a truncated or foreign file fails with
``CorruptedCheckpointError`` and nothing has been loaded.
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CorruptedCheckpointError

if TYPE_CHECKING:
    import torch

MAX_HEADER_SIZE = 100_000_000  # same bound as the reference implementation

# safetensors dtype name -> (torch dtype attribute name, item size in bytes)
DTYPES: dict[str, tuple[str, int]] = {
    "BOOL": ("bool", 1),
    "U8": ("uint8", 1),
    "I8": ("int8", 1),
    "F8_E4M3": ("float8_e4m3fn", 1),
    "F8_E5M2": ("float8_e5m2", 1),
    "I16": ("int16", 2),
    "U16": ("uint16", 2),
    "F16": ("float16", 2),
    "BF16": ("bfloat16", 2),
    "I32": ("int32", 4),
    "U32": ("uint32", 4),
    "F32": ("float32", 4),
    "I64": ("int64", 8),
    "U64": ("uint64", 8),
    "F64": ("float64", 8),
    "C64": ("complex64", 8),
}


def require_torch() -> Any:
    """``torch``, or an ImportError that says which extra to install."""
    try:
        import torch
    except ImportError as exc:
        raise ImportError(
            "This needs PyTorch, which is not installed: pip install 'modelhub[torch]' (for the CPU build, "
            "pip install torch --index-url https://download.pytorch.org/whl/cpu)."
        ) from exc
    return torch


def torch_dtype(name: str) -> torch.dtype:
    import torch

    return getattr(torch, DTYPES[name][0])


def safetensors_dtype_name(dtype: torch.dtype) -> str:
    wanted = str(dtype).removeprefix("torch.")
    for name, (attr, _) in DTYPES.items():
        if attr == wanted:
            return name
    raise ValueError(f"dtype {dtype} cannot be stored in safetensors.")


@dataclass(frozen=True)
class TensorEntry:
    dtype: str
    shape: tuple[int, ...]
    begin: int  # offsets relative to the start of the data section
    end: int

    @property
    def nbytes(self) -> int:
        return self.end - self.begin


class SafetensorsFile:
    """A validated safetensors file: its tensor table and metadata; data is read on demand."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.metadata: dict[str, str] | None = None
        self.entries: dict[str, TensorEntry] = {}
        self.data_start = 0
        self._parse()

    def _corrupt(self, what: str) -> CorruptedCheckpointError:
        return CorruptedCheckpointError(
            f"Cannot load weights from {str(self.path)!r}: {what}. The file is truncated, corrupted or not a "
            "safetensors file; re-download it (force_download=True) or save the model again."
        )

    def _parse(self) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            raise FileNotFoundError(f"No weights file at {str(self.path)!r}.") from None
        if size < 8:
            raise self._corrupt(f"only {size} bytes, too short for a safetensors header")
        with open(self.path, "rb") as f:
            (header_len,) = struct.unpack("<Q", f.read(8))
            if header_len > MAX_HEADER_SIZE or header_len > size - 8:
                raise self._corrupt(f"the header claims {header_len} bytes but the file has {size} bytes")
            raw = f.read(header_len)
        try:
            header = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise self._corrupt(f"the header is not valid JSON ({exc})") from None
        if not isinstance(header, dict):
            raise self._corrupt("the header is not a JSON object")
        metadata = header.pop("__metadata__", None)
        if metadata is not None and not (
            isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())
        ):
            raise self._corrupt("'__metadata__' must map strings to strings")
        self.metadata = metadata
        self.data_start = 8 + header_len
        data_len = size - self.data_start
        for name, spec in header.items():
            self.entries[name] = self._entry(name, spec, data_len)
        needed = max((entry.end for entry in self.entries.values()), default=0)
        if needed > data_len:
            raise self._corrupt(
                f"the header describes {needed} bytes of tensor data but only {data_len} are present"
            )

    def _entry(self, name: str, spec: Any, data_len: int) -> TensorEntry:
        if not isinstance(spec, dict):
            raise self._corrupt(f"entry {name!r} is not an object")
        dtype, shape, offsets = spec.get("dtype"), spec.get("shape"), spec.get("data_offsets")
        if dtype not in DTYPES:
            raise self._corrupt(f"tensor {name!r} has unsupported dtype {dtype!r}")
        if not (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)):
            raise self._corrupt(f"tensor {name!r} has an invalid shape {shape!r}")
        if not (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(isinstance(o, int) for o in offsets)
            and 0 <= offsets[0] <= offsets[1]
        ):
            raise self._corrupt(f"tensor {name!r} has invalid data_offsets {offsets!r}")
        expected = math.prod(shape) * DTYPES[dtype][1]
        if offsets[1] - offsets[0] != expected:
            raise self._corrupt(
                f"tensor {name!r} spans {offsets[1] - offsets[0]} bytes but shape {shape} of {dtype} needs {expected}"
            )
        return TensorEntry(dtype, tuple(shape), offsets[0], offsets[1])

    def keys(self) -> list[str]:
        return list(self.entries)

    def read_into(self, fd: int, name: str, target: torch.Tensor) -> None:
        """Fill ``target`` (CPU, contiguous, same dtype and element count) with tensor ``name``'s bytes."""
        entry = self.entries[name]
        if entry.nbytes == 0:
            return
        buffer = target.detach().reshape(-1).view(_torch_uint8()).numpy().data.cast("B")
        offset = self.data_start + entry.begin
        done = 0
        while done < entry.nbytes:
            chunk = os.preadv(fd, [buffer[done:]], offset + done)
            if chunk <= 0:
                raise self._corrupt(f"tensor {name!r} ends early (file changed while reading?)")
            done += chunk

    def load_tensor(self, fd: int, name: str) -> torch.Tensor:
        """A new CPU tensor holding ``name``."""
        import torch

        entry = self.entries[name]
        tensor = torch.empty(entry.shape, dtype=torch_dtype(entry.dtype))
        self.read_into(fd, name, tensor)
        return tensor


def _torch_uint8() -> Any:
    import torch

    return torch.uint8


def write_safetensors(
    path: str | os.PathLike, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None
) -> None:
    """Write ``tensors`` to ``path`` atomically (a temporary file renamed into place).

    Entries are laid out by decreasing item size so that every tensor starts aligned to its dtype. Each tensor is
    written from its own memory (CPU, contiguous: others are converted one at a time).
    """
    import torch

    order = sorted(tensors, key=lambda k: (-tensors[k].element_size(), k))
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    for name in order:
        tensor = tensors[name]
        nbytes = tensor.numel() * tensor.element_size()
        header[name] = {
            "dtype": safetensors_dtype_name(tensor.dtype),
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + nbytes],
        }
        offset += nbytes
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb", buffering=0) as f:
            f.write(struct.pack("<Q", len(raw)) + raw)
            for name in order:
                tensor = tensors[name].detach()
                if tensor.numel() == 0:
                    continue
                if tensor.device.type != "cpu":
                    tensor = tensor.cpu()
                tensor = tensor.contiguous()
                view = tensor.reshape(-1).view(torch.uint8).numpy().data.cast("B")
                written = 0
                while written < len(view):
                    written += f.write(view[written:])
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
