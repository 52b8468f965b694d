"""Blob storage: the interface (``base``), the local-disk store (``local``) and the factory that picks one."""

from __future__ import annotations

from pathlib import Path

from .base import BlobStore, BlobVerificationError, BlobWriter, UploadTarget
from .local import LocalBlobStore

__all__ = [
    "BlobStore",
    "BlobVerificationError",
    "BlobWriter",
    "LocalBlobStore",
    "UploadTarget",
    "open_blob_store",
]


def open_blob_store(url: str | None, data_dir: Path) -> BlobStore:
    """The store for ``--blob-store URL``: ``None`` or ``file://PATH`` for local disk (default ``DATA_DIR/blobs``).

    Remote stores (``s3://bucket/prefix``) plug in here, implementing ``download_url`` / ``upload_target``."""
    if url is None:
        return LocalBlobStore(data_dir / "blobs")
    if url.startswith("file://"):
        return LocalBlobStore(Path(url.removeprefix("file://")))
    raise ValueError(
        f"Unsupported blob store {url!r}: use file:///path (S3-compatible storage is not available yet)."
    )
