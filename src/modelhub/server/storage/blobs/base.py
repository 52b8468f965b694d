"""The blob store interface: content-addressed storage, one copy per SHA-256 whatever the number of repos using it.

Writes go through a ``BlobWriter`` (stream in, hash, verify, then publish atomically); reads through ``open`` /
``iter_range`` / ``size`` / ``exists``. Two optional seams let a store that is not a local disk (S3) take the bytes
off the hub process: ``download_url`` (answer a download with a redirect) and ``upload_target`` (let the client
PUT straight to storage); ``local_path`` is the fast path of a local store (sendfile-like serving).
"""

from __future__ import annotations

import abc
import hashlib
import mmap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

# direct I/O wants buffer address, length and file offset aligned to the device's block size; a ``read_range``
# buffer needs one block of slack at each end
IO_BLOCK = 4096


@dataclass(frozen=True)
class UploadTarget:
    """A direct-to-storage upload: the URL to PUT to and the headers to send with it."""

    href: str
    headers: dict[str, str]


class BlobVerificationError(ValueError):
    """The uploaded bytes do not match the declared SHA-256 or size; nothing was stored."""


class BlobWriter(abc.ABC):
    """Receives the bytes of one blob, hashing as it goes. ``commit`` publishes it, ``abort`` drops it.

    ``verified_name``: the caller has already verified the bytes against this content address of its own (a
    xorb's Xet hash, which the CAS checks chunk by chunk): the blob is published under it and no SHA-256 is
    taken (for a 64 MiB xorb that is ~60 ms of CPU the upload would spend twice)."""

    def __init__(self, verified_name: str | None = None) -> None:
        self._sha256 = hashlib.sha256() if verified_name is None else None
        self._verified_name = verified_name
        self.size = 0
        self._done = False

    def write(self, data: bytes) -> None:
        self.update_hash(data)
        self.store(data)

    # ``write`` = ``update_hash`` + ``store``; callers may run the two on separate threads (each in order) so that
    # hashing and disk writes overlap, as long as both have seen every chunk before ``commit``.
    def update_hash(self, data: bytes) -> None:
        if self._sha256 is not None:
            self._sha256.update(data)

    def store(self, data: bytes) -> None:
        self.size += len(data)
        self._write(data)

    @property
    def sha256(self) -> str:
        """The blob's name: the SHA-256 of what was written (or the caller's ``verified_name``)."""
        if self._sha256 is None:
            assert self._verified_name is not None
            return self._verified_name
        return self._sha256.hexdigest()

    def _verify(self, expected_sha256: str | None, expected_size: int | None) -> str:
        """The SHA-256 of what was written, if it matches the expectations; else ``BlobVerificationError``."""
        sha = self.sha256
        if expected_size is not None and self.size != expected_size:
            raise BlobVerificationError(f"received {self.size} bytes but {expected_size} were declared")
        if expected_sha256 is not None and sha != expected_sha256:
            raise BlobVerificationError(f"content SHA-256 is {sha} but {expected_sha256} was declared")
        return sha

    @abc.abstractmethod
    def _write(self, data: bytes) -> None: ...

    def commit(self, expected_sha256: str | None = None, expected_size: int | None = None) -> str:
        """Verify against the expectations (if given), make the blob visible and return its SHA-256; on any
        failure nothing becomes visible and what was written is dropped."""
        try:
            sha = self._verify(expected_sha256, expected_size)
            self._publish(sha)
            self._done = True
            return sha
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        if not self._done:
            self._done = True
            self._discard()

    @abc.abstractmethod
    def _publish(self, sha256: str) -> None:
        """Make the verified content visible as blob ``sha256`` (keeping the one copy if it exists already)."""

    @abc.abstractmethod
    def _discard(self) -> None:
        """Drop what was written (once)."""


class BlobStore(abc.ABC):
    """Where blob contents live, addressed by lowercase hex SHA-256."""

    @abc.abstractmethod
    def writer(self, expected_sha256: str | None = None, *, verified: bool = False) -> BlobWriter:
        """A writer for one new blob; ``expected_sha256`` (when the uploader declared it) lets a remote store
        write straight to the final place, published only once verified. ``verified``: ``expected_sha256`` is
        instead a content address the caller computed over these bytes itself (see ``BlobWriter``)."""

    @abc.abstractmethod
    def exists(self, sha256: str) -> bool: ...

    @abc.abstractmethod
    def size(self, sha256: str) -> int:
        """Size in bytes; raises FileNotFoundError if absent."""

    @abc.abstractmethod
    def open(self, sha256: str) -> BinaryIO:
        """A readable binary file object positioned at 0; raises FileNotFoundError if absent."""

    def local_path(self, sha256: str) -> Path | None:
        """A path on local disk if the store has one (fast serving), else None."""
        return None

    def download_url(self, sha256: str, *, filename: str, expires_in: int) -> str | None:
        """A short-lived URL the client may download the blob from directly (a redirect target), or None to
        have the hub stream it."""
        return None

    def upload_target(self, sha256: str, size: int, *, expires_in: int) -> UploadTarget | None:
        """Where the client should PUT a new blob directly, or None for "through the hub"."""
        return None

    @abc.abstractmethod
    def iter_blobs(self) -> Iterator[tuple[str, float]]:
        """Every stored blob as (sha256, modification time), for garbage collection."""

    @abc.abstractmethod
    def delete(self, sha256: str) -> None: ...

    @abc.abstractmethod
    def touch(self, sha256: str) -> None:
        """Mark a blob as just used (an upload found it already stored), so garbage collection spares it."""

    def cleanup_tmp(self, min_age_s: float | None = None) -> tuple[int, int]:
        """Remove what interrupted uploads of processes no longer running left behind; (files, bytes) removed.
        A store shared by processes that cannot tell who is alive (S3) removes only what is older than
        ``min_age_s`` (default: a day)."""
        return 0, 0

    def iter_range(
        self, sha256: str, start: int = 0, end: int | None = None, chunk: int = 1 << 20
    ) -> Iterator[bytes]:
        """Bytes ``[start, end)`` of the blob in chunks."""
        with self.open(sha256) as fh:
            fh.seek(start)
            remaining = (self.size(sha256) if end is None else end) - start
            while remaining > 0:
                data = fh.read(min(chunk, remaining))
                if not data:
                    break
                remaining -= len(data)
                yield data

    def read_range(self, sha256: str, start: int, end: int, buf: mmap.mmap | None = None) -> memoryview:
        """Bytes ``[start, end)`` in one ranged read (S3 objects serve ranges, they do not seek). A store that can
        read straight from the device into ``buf`` (page-aligned, at least ``end - start + 2 * IO_BLOCK`` bytes: the
        local disk, with direct I/O, for one-time reads such as hashing that the page cache would not serve
        again) returns a view of it, valid until ``buf`` is reused."""
        return memoryview(b"".join(self.iter_range(sha256, start, end, max(end - start, 1))))

    def put_bytes(self, data: bytes, verified_name: str | None = None) -> str:
        """Store ``data``; returns its name: its SHA-256, or ``verified_name`` (a content address the caller
        computed over exactly these bytes, e.g. a xorb's Xet hash: no SHA-256 is taken)."""
        w = self.writer(verified_name, verified=True) if verified_name else self.writer()
        try:
            w.write(data)
            return w.commit()
        except BaseException:
            w.abort()
            raise
