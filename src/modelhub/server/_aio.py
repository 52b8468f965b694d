"""Feeding a blob writer from the event loop without stalling it."""

from __future__ import annotations

import asyncio
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .blobstore import BlobWriter


class AsyncBlobSink:
    """Hands received bytes to a ``BlobWriter`` on a thread of its own, a few MiB at a time.

    Up to ``max_inflight`` batches queue on that (single, hence ordered) thread while the event loop keeps
    receiving, so the socket, the hashing and the disk work in parallel (hashlib and file writes release the GIL).
    Chunks are passed as received, never copied on the event loop; memory stays at a few batches."""

    def __init__(self, writer: BlobWriter, flush_at: int = 4 << 20, max_inflight: int = 2) -> None:
        self.writer = writer
        self.flush_at = flush_at
        self.max_inflight = max_inflight
        self.size = 0  # bytes accepted so far (written, being written or buffered)
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._inflight: deque[asyncio.Future[Any]] = deque()
        self._executor: ThreadPoolExecutor | None = None

    async def write(self, data: bytes) -> None:
        self.size += len(data)
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered >= self.flush_at:
            await self._submit()

    def _write_chunks(self, chunks: list[bytes]) -> None:
        for chunk in chunks:
            self.writer.write(chunk)

    def _run(self, fn: Any, *args: Any) -> asyncio.Future[Any]:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="blob-writer")
        return asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _submit(self) -> None:
        while len(self._inflight) >= self.max_inflight:
            await self._inflight.popleft()
        chunks, self._chunks, self._buffered = self._chunks, [], 0
        self._inflight.append(self._run(self._write_chunks, chunks))

    async def _drain(self) -> None:
        while self._inflight:
            await self._inflight.popleft()

    async def finish(self, expected_sha256: str | None = None, expected_size: int | None = None) -> str:
        """Flush, verify and publish; returns the SHA-256. The writer is aborted on any failure."""
        try:
            if self._chunks:
                await self._submit()
            await self._drain()
            sha = await self._run(self.writer.commit, expected_sha256, expected_size)
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
        self.writer.abort()
        self._shutdown()

    def _shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None
