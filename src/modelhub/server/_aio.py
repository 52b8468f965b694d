"""Feeding a blob writer from the event loop without stalling it."""

from __future__ import annotations

import asyncio
from typing import Any

from .blobstore import BlobWriter


class AsyncBlobSink:
    """Buffers incoming bytes and hands them to a ``BlobWriter`` in a worker thread, a few MiB at a time.

    One write is in flight while the next buffer fills, so receiving from the socket (event loop) overlaps
    hashing and writing to disk (worker thread; both release the GIL). Memory stays at about two buffers."""

    def __init__(self, writer: BlobWriter, flush_at: int = 4 << 20) -> None:
        self.writer = writer
        self.flush_at = flush_at
        self._buf = bytearray()
        self._inflight: asyncio.Future[Any] | None = None

        self.size = 0  # bytes accepted so far (written, being written or buffered)

    async def write(self, data: bytes) -> None:
        self.size += len(data)
        self._buf += data
        if len(self._buf) >= self.flush_at:
            await self._submit()

    async def _submit(self) -> None:
        await self._wait()
        chunk = bytes(self._buf)
        self._buf.clear()
        self._inflight = asyncio.get_running_loop().run_in_executor(None, self.writer.write, chunk)

    async def _wait(self) -> None:
        if self._inflight is not None:
            fut, self._inflight = self._inflight, None
            await fut

    async def finish(self, expected_sha256: str | None = None, expected_size: int | None = None) -> str:
        """Flush, verify and publish; returns the SHA-256. The writer is aborted on any failure."""
        try:
            if self._buf:
                await self._submit()
            await self._wait()
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(None, self.writer.commit, expected_sha256, expected_size)
        except BaseException:
            await self.abort()
            raise

    async def abort(self) -> None:
        try:
            await self._wait()
        except Exception:  # the write that failed is what we are cleaning up after
            pass
        self.writer.abort()
