"""Blobs in S3-compatible object storage (AWS S3, SeaweedFS, MinIO, Ceph...), through boto3.

Layout under ``s3://BUCKET/PREFIX/``: ``ab/cd/<sha256>`` for blobs, ``tmp/<random>`` while the SHA-256 of an upload
is not known in advance. Nothing becomes visible under a blob key before the hub verified size and SHA-256:

- uploads whose SHA-256 is declared (the LFS ``PUT``) go to the blob key as an S3 *multipart* upload, parts sent
  as they arrive (a few in flight, so memory stays bounded whatever the file size); the upload is completed only
  after the hash matched, else aborted: S3 shows an object only when its multipart upload completes;
- uploads of unknown content (inline in a commit) go to ``tmp/`` and are copied to the blob key (a server-side
  copy) once hashed;
- small uploads (under one part) stay in memory and are put once verified.

Downloads of large files answer with a redirect to a presigned ``GET`` URL (``download_url``), so their bytes never
pass through the hub. Interrupted uploads leave an incomplete multipart upload or a ``tmp/`` object, invisible to
readers; ``cleanup_tmp`` (start-up: older than a day; ``modelhub admin gc``: older than ``--min-age-hours``) removes
them. Why boto3 (not obstore): docs/deploy.md.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, BinaryIO, cast
from urllib.parse import quote

from .base import BlobStore, BlobVerificationError, BlobWriter

PART_SIZE = 16 * 2**20  # also the in-memory limit of a small upload
PARTS_IN_FLIGHT = 4  # per upload: memory bound = (PARTS_IN_FLIGHT + 1) * PART_SIZE
_SHA256 = re.compile(r"[0-9a-f]{64}")
_STARTUP_TMP_AGE = 86400.0


def _check_sha(sha256: str) -> str:
    if not _SHA256.fullmatch(sha256):
        raise ValueError(f"Invalid blob id {sha256!r}: expected 64 lowercase hex characters (a SHA-256).")
    return sha256


def _missing(exc: Exception) -> bool:
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


class _S3Writer(BlobWriter):
    def __init__(self, store: S3BlobStore, expected_sha256: str | None, verified: bool = False) -> None:
        super().__init__(expected_sha256 if verified else None)
        self._store = store
        self._final = store.key(expected_sha256) if expected_sha256 else None
        self._key = self._final or store.tmp_key()
        self._buf = bytearray()
        self._upload_id: str | None = None
        self._parts: list[Future[dict[str, Any]]] = []
        self._slots = threading.BoundedSemaphore(PARTS_IN_FLIGHT)

    def _write(self, data: bytes) -> None:
        self._buf += data
        while len(self._buf) >= PART_SIZE:
            part = bytes(self._buf[:PART_SIZE])
            del self._buf[:PART_SIZE]
            self._send(part)

    def _send(self, part: bytes) -> None:
        s = self._store
        if self._upload_id is None:
            self._upload_id = s.client.create_multipart_upload(Bucket=s.bucket, Key=self._key)["UploadId"]
        number = len(self._parts) + 1
        self._slots.acquire()  # back-pressure: the request body waits while PARTS_IN_FLIGHT parts are sent

        def upload() -> dict[str, Any]:
            try:
                r = s.client.upload_part(
                    Bucket=s.bucket, Key=self._key, UploadId=self._upload_id, PartNumber=number, Body=part
                )
                return {"PartNumber": number, "ETag": r["ETag"]}
            finally:
                self._slots.release()

        self._parts.append(s.pool.submit(upload))

    def _publish(self, sha: str) -> None:
        s = self._store
        if self._final is not None and self._final != s.key(sha):
            raise BlobVerificationError(f"content SHA-256 is {sha}, not the one the upload was opened for")
        final = s.key(sha)
        # No "already stored?" check: writing the same bytes again is harmless (one object per SHA-256 either
        # way), refreshes its modification time (so gc spares it) and saves a round trip per small file.
        if self._upload_id is None:  # small: verified in memory, put once
            s.client.put_object(Bucket=s.bucket, Key=final, Body=bytes(self._buf))
        else:
            if self._buf or not self._parts:
                self._send(bytes(self._buf))
            parts = [f.result() for f in self._parts]
            s.client.complete_multipart_upload(
                Bucket=s.bucket, Key=self._key, UploadId=self._upload_id, MultipartUpload={"Parts": parts}
            )
            self._upload_id = None
            if self._key != final:
                s.client.copy({"Bucket": s.bucket, "Key": self._key}, s.bucket, final)
                s.client.delete_object(Bucket=s.bucket, Key=self._key)
        self._buf = bytearray()

    def _discard(self) -> None:
        self._buf = bytearray()
        for f in self._parts:
            f.cancel()
        if self._upload_id is not None:
            s = self._store
            for f in self._parts:
                if not f.cancelled():
                    f.exception()  # wait: a part still in flight would otherwise outlive the abort
            try:
                s.client.abort_multipart_upload(Bucket=s.bucket, Key=self._key, UploadId=self._upload_id)
            except Exception:  # left for cleanup_tmp
                pass
            self._upload_id = None


class S3BlobStore(BlobStore):
    """Content-addressed blobs in one bucket under a prefix; see the module docstring."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = (prefix.strip("/") + "/") if prefix.strip("/") else ""
        self.pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="s3-part")
        self._check_bucket()

    @classmethod
    def from_url(cls, url: str, *, endpoint_url: str | None = None) -> S3BlobStore:
        """``s3://BUCKET[/PREFIX]``; credentials and region from the usual ``AWS_*`` variables (region default
        us-east-1); path-style addressing when ``endpoint_url`` names an S3-compatible server."""
        import os

        import boto3
        from botocore.config import Config

        rest = url.removeprefix("s3://")
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise ValueError(f"--blob-store {url!r}: expected s3://BUCKET[/PREFIX].")
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            max_pool_connections=64,
            retries={"max_attempts": 5, "mode": "standard"},
            # no CRC32 of every part on top of our SHA-256 (SeaweedFS and older servers do not need it)
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        client = boto3.client("s3", endpoint_url=endpoint_url, region_name=region, config=config)
        return cls(client, bucket, prefix)

    def _check_bucket(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception as exc:
            raise ValueError(
                f"Blob store s3://{self.bucket}/{self.prefix}: the bucket cannot be used ({exc}). Create it, and"
                " check the AWS_* credentials and --s3-endpoint-url."
            ) from None

    def key(self, sha256: str) -> str:
        _check_sha(sha256)
        return f"{self.prefix}{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def tmp_key(self) -> str:
        return f"{self.prefix}tmp/{uuid.uuid4().hex}"

    def writer(self, expected_sha256: str | None = None, *, verified: bool = False) -> BlobWriter:
        if expected_sha256 is not None:
            _check_sha(expected_sha256)
        elif verified:
            raise ValueError("a verified blob needs its name")
        return _S3Writer(self, expected_sha256, verified)

    def _head(self, sha256: str) -> dict[str, Any] | None:
        try:
            return cast(dict[str, Any], self.client.head_object(Bucket=self.bucket, Key=self.key(sha256)))
        except Exception as exc:
            if _missing(exc):
                return None
            raise

    def exists(self, sha256: str) -> bool:
        return self._head(sha256) is not None

    def size(self, sha256: str) -> int:
        head = self._head(sha256)
        if head is None:
            raise FileNotFoundError(sha256)
        return int(head["ContentLength"])

    def open(self, sha256: str) -> BinaryIO:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.key(sha256))["Body"]
        except Exception as exc:
            if _missing(exc):
                raise FileNotFoundError(sha256) from None
            raise
        return cast(BinaryIO, body)

    def iter_range(
        self, sha256: str, start: int = 0, end: int | None = None, chunk: int = 1 << 20
    ) -> Iterator[bytes]:
        if end is not None and end <= start:
            return
        ranged = f"bytes={start}-{'' if end is None else end - 1}"
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.key(sha256), Range=ranged)["Body"]
        except Exception as exc:
            if _missing(exc):
                raise FileNotFoundError(sha256) from None
            raise
        with body:
            yield from body.iter_chunks(chunk)

    def download_url(self, sha256: str, *, filename: str, expires_in: int) -> str | None:
        params = {"Bucket": self.bucket, "Key": self.key(sha256)}
        if filename:
            params["ResponseContentDisposition"] = f"inline; filename*=UTF-8''{quote(filename)}"
        return cast(
            str, self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)
        )

    def iter_blobs(self) -> Iterator[tuple[str, float]]:
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        ):
            for obj in page.get("Contents", ()):
                name = obj["Key"].rsplit("/", 1)[-1]
                if _SHA256.fullmatch(name) and obj["Key"] == self.key(name):
                    yield name, obj["LastModified"].timestamp()

    def delete(self, sha256: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.key(sha256))

    def touch(self, sha256: str) -> None:
        """Refresh the object's modification time (an in-place copy), so garbage collection spares it."""
        key = self.key(sha256)
        try:
            self.client.copy_object(
                Bucket=self.bucket,
                Key=key,
                CopySource={"Bucket": self.bucket, "Key": key},
                MetadataDirective="REPLACE",
                Metadata={"touched": str(int(time.time()))},
            )
        except Exception as exc:
            if not _missing(exc):
                raise

    def cleanup_tmp(self, min_age_s: float | None = None) -> tuple[int, int]:
        """Abort multipart uploads and delete ``tmp/`` objects older than ``min_age_s`` (default a day: other
        processes share the bucket, so only age tells an abandoned upload from one in progress)."""
        cutoff = time.time() - (_STARTUP_TMP_AGE if min_age_s is None else min_age_s)
        count = size = 0
        for page in self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        ):
            for up in page.get("Uploads", ()):
                if up["Initiated"].timestamp() <= cutoff:
                    try:
                        self.client.abort_multipart_upload(
                            Bucket=self.bucket, Key=up["Key"], UploadId=up["UploadId"]
                        )
                        count += 1
                    except Exception as exc:
                        if not _missing(exc):
                            raise
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"{self.prefix}tmp/"
        ):
            for obj in page.get("Contents", ()):
                if obj["LastModified"].timestamp() <= cutoff:
                    self.client.delete_object(Bucket=self.bucket, Key=obj["Key"])
                    count += 1
                    size += int(obj["Size"])
        return count, size
