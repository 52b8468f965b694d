"""How each file travels: inline (``regular``) or as a large file (LFS), decided per client and file (docs/server.md, "Uploads, LFS and Xet")."""

from __future__ import annotations

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


# --- upload negotiation ---------------------------------------------------------------------------------------


def client_wants_regular(request: Request) -> bool:
    """True when preupload should answer ``regular`` for every file (``--upload-mode regular``).

    In ``auto`` (the default) large files are ``lfs`` for every client: the official client >= 1.20 with
    ``hf_xet`` then uploads them through Xet (the CAS under ``/cas``), any other client (hf_xet absent or
    ``HF_HUB_DISABLE_XET=1``, older clients, modelhub's own, git-lfs) through the LFS batch API."""
    return h.settings(request).upload_mode == "regular"


def is_large(path: str, size: int, sample: bytes, threshold: int) -> bool:
    """Whether a file is stored (and, for LFS clients, uploaded) as a large file."""
    return size >= threshold or b"\0" in sample or path.lower().endswith(tuple(LFS_EXTENSIONS))
