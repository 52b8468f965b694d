"""Reading content objects by SHA-256 wherever they are stored: a blob of the blob store (LFS uploads, inline
files) or a Xet file (reconstructed from its xorbs). The readers of file contents inside the server (repo metadata,
safetensors headers, the web pages' file views) go through this, so a file uploaded through Xet reads the same as
one uploaded through LFS."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, Protocol

from sqlalchemy.orm import sessionmaker

from ..storage.blobs import BlobStore
from . import xetfiles


class ContentSource(Protocol):
    """What the readers of file contents need: a ``ContentReader`` (or a bare ``BlobStore``) provides it."""

    def open(self, sha256: str) -> BinaryIO: ...

    def iter_range(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]: ...


class IterReader(io.RawIOBase):
    """A read-only, forward-only file over an iterator of byte chunks (a Xet file's reconstruction)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:  # a memoryview of the caller's buffer
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


class ContentReader:
    """``open`` / ``iter_range`` / ``exists`` / ``size`` of content objects, blob store first, then Xet storage."""

    def __init__(
        self, blobs: BlobStore, sessions: sessionmaker, xet: Callable[[], xetfiles.XetReader | None]
    ) -> None:
        self.blobs = blobs
        self._sessions = sessions
        self._xet = xet

    def _xet_file(self, sha256: str) -> tuple[xetfiles.XetReader, str, int] | None:
        reader = self._xet()
        if reader is None:
            return None
        with self._sessions() as db:
            f = xetfiles.file_by_sha256(db, sha256)
        return None if f is None else (reader, f.hash, f.size)

    def exists(self, sha256: str) -> bool:
        return self.blobs.exists(sha256) or self._xet_file(sha256) is not None

    def size(self, sha256: str) -> int:
        if self.blobs.exists(sha256):
            return self.blobs.size(sha256)
        found = self._xet_file(sha256)
        if found is None:
            raise FileNotFoundError(sha256)
        return found[2]

    def iter_range(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Bytes ``[start, end)`` in chunks; FileNotFoundError (when iterated) if neither store holds it."""
        if self.blobs.exists(sha256):
            yield from self.blobs.iter_range(sha256, start, end)
            return
        found = self._xet_file(sha256)
        if found is None:
            raise FileNotFoundError(sha256)
        reader, file_hash, size = found
        end = size if end is None else min(end, size)
        if start < end:
            yield from reader.iter_file(file_hash, start, end)

    def open(self, sha256: str) -> BinaryIO:
        """A readable file positioned at 0 (forward reads only for a Xet file); FileNotFoundError if absent."""
        if self.blobs.exists(sha256):
            return self.blobs.open(sha256)
        if self._xet_file(sha256) is None:
            raise FileNotFoundError(sha256)
        return io.BufferedReader(IterReader(self.iter_range(sha256)), 1 << 20)
