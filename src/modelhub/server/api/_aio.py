"""Feeding a blob writer from the event loop without stalling it."""

from __future__ import annotations

import asyncio
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..priority import bulk_executor
from ..storage.blobs import BlobWriter


class AsyncBlobSink:
    """Hands received bytes to a ``BlobWriter`` a few MiB at a time, on two threads of its own.

    One thread hashes, the other writes to disk (each single, hence in order); up to ``max_inflight`` batches
    queue while the event loop keeps receiving, so the socket, the hashing and the disk all work at once
    (hashlib and file writes release the GIL), at a lower CPU priority than request handling. Chunks are passed
    as received, never copied on the event loop; memory stays at a few batches."""

    def __init__(self, writer: BlobWriter, flush_at: int = 4 << 20, max_inflight: int = 2) -> None:
        self.writer = writer
        self.flush_at = flush_at
        self.max_inflight = max_inflight
        self.size = 0  # bytes accepted so far (written, being written or buffered)
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._inflight: deque[asyncio.Future[Any]] = deque()
        self._hasher: ThreadPoolExecutor | None = None
        self._storer: ThreadPoolExecutor | None = None

    async def write(self, data: bytes) -> None:
        self.size += len(data)
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered >= self.flush_at:
            await self._submit()

    def _hash_chunks(self, chunks: list[bytes]) -> None:
        for chunk in chunks:
            self.writer.update_hash(chunk)

    def _store_chunks(self, chunks: list[bytes]) -> None:
        for chunk in chunks:
            self.writer.store(chunk)

    async def _submit(self) -> None:
        while len(self._inflight) >= 2 * self.max_inflight:
            await self._inflight.popleft()
        chunks, self._chunks, self._buffered = self._chunks, [], 0
        if self._hasher is None or self._storer is None:
            self._hasher = bulk_executor("blob-hash")
            self._storer = bulk_executor("blob-store")
        loop = asyncio.get_running_loop()
        self._inflight.append(loop.run_in_executor(self._hasher, self._hash_chunks, chunks))
        self._inflight.append(loop.run_in_executor(self._storer, self._store_chunks, chunks))

    async def _drain(self) -> None:
        while self._inflight:
            await self._inflight.popleft()

    async def finish(self, expected_sha256: str | None = None, expected_size: int | None = None) -> str:
        """Flush, verify and publish; returns the SHA-256. The writer is aborted on any failure."""
        try:
            if self._chunks:
                await self._submit()
            await self._drain()
            loop = asyncio.get_running_loop()
            sha = await loop.run_in_executor(None, self.writer.commit, expected_sha256, expected_size)
        except BaseException:
            await self.abort()
            raise
        self._shutdown()
        return sha

    async def abort(self) -> None:
        try:
            await self._drain()
        except Exception:  # the write that failed is what we are cleaning up after
            self._inflight.clear()
        await asyncio.get_running_loop().run_in_executor(None, self.writer.abort)
        self._shutdown()

    def _shutdown(self) -> None:
        for ex in (self._hasher, self._storer):
            if ex is not None:
                ex.shutdown(wait=False)
        self._hasher = self._storer = None
