"""Blob storage: the interface (``base``), the local-disk store (``local``) and the factory that picks one."""

from __future__ import annotations

from pathlib import Path

from .base import IO_BLOCK, BlobStore, BlobVerificationError, BlobWriter, UploadTarget
from .local import LocalBlobStore

__all__ = [
    "IO_BLOCK",
    "BlobStore",
    "BlobVerificationError",
    "BlobWriter",
    "LocalBlobStore",
    "UploadTarget",
    "open_blob_store",
]


def open_blob_store(
    url: str | None, data_dir: Path | None, *, s3_endpoint_url: str | None = None
) -> BlobStore:
    """The store for ``--blob-store URL``: ``None`` or ``file://PATH`` for local disk (default ``DATA_DIR/blobs``),
    ``s3://BUCKET[/PREFIX]`` for S3-compatible object storage (``storage/blobs/s3.py``, boto3)."""
    if url is None:
        if data_dir is None:
            raise ValueError("No blob store: give --blob-store, or --data-dir for blobs on local disk.")
        return LocalBlobStore(data_dir / "blobs")
    if url.startswith("file://"):
        return LocalBlobStore(Path(url.removeprefix("file://")))
    if url.startswith("s3://"):
        from .s3 import S3BlobStore

        return S3BlobStore.from_url(url, endpoint_url=s3_endpoint_url)
    raise ValueError(f"Unsupported blob store {url!r}: use s3://BUCKET[/PREFIX] or file:///PATH.")
