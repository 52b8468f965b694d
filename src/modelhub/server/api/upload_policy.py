"""How each file travels: inline (``regular``) or as a large file (LFS), decided per client and file (docs/server.md, "Uploads, LFS and Xet")."""

from __future__ import annotations

import re

from fastapi import Request

from . import _http as h

LFS_EXTENSIONS = [
    ".7z",
    ".arrow",
    ".bin",
    ".bz2",
    ".ckpt",
    ".ftz",
    ".gz",
    ".h5",
    ".joblib",
    ".keras",
    ".mlmodel",
    ".model",
    ".msgpack",
    ".npy",
    ".npz",
    ".onnx",
    ".ot",
    ".parquet",
    ".pb",
    ".pickle",
    ".pkl",
    ".pt",
    ".pth",
    ".rar",
    ".safetensors",
    ".tar",
    ".tflite",
    ".tgz",
    ".wasm",
    ".xz",
    ".zip",
    ".zst",
]
_HF_HUB_UA = re.compile(r"(?:^|;\s*)hf_hub/(\d+)\.(\d+)")


# --- upload negotiation ---------------------------------------------------------------------------------------


def client_wants_regular(request: Request) -> bool:
    """True when preupload should answer ``regular`` for every file (see docs/server.md, "Xet").

    The official client >= 1.20 with ``hf_xet`` installed goes to Xet for any ``lfs`` answer and cannot be steered,
    so in ``auto`` mode such clients get ``regular`` unless their user-agent opts in with ``upload/lfs``.
    """
    mode = h.settings(request).upload_mode
    if mode != "auto":
        return mode == "regular"
    ua = request.headers.get("user-agent", "")
    if "upload/lfs" in ua:
        return False
    m = _HF_HUB_UA.search(ua)
    return m is not None and (int(m.group(1)), int(m.group(2))) >= (1, 20)


def is_large(path: str, size: int, sample: bytes, threshold: int) -> bool:
    """Whether a file is stored (and, for LFS clients, uploaded) as a large file."""
    return size >= threshold or b"\0" in sample or path.lower().endswith(tuple(LFS_EXTENSIONS))
