"""Streaming parser for the NDJSON commit body.

Small lines are parsed whole. A line that grows past ``SMALL_LINE`` bytes is a ``file`` operation carrying a big
inline base64 ``content`` (what the official client sends when told ``uploadMode: regular``): its base64 is decoded
on the fly into a blob writer, so a multi-GB file never sits in memory; the rest of the line (path, encoding) is
parsed as JSON with ``content`` replaced by a reference to the stored blob.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

from ..storage.blobs import BlobStore, BlobWriter
from . import b64, limits
from ._aio import AsyncBlobSink
from .errors import ApiError, bad_request

SMALL_LINE = 1 << 20  # lines up to 1 MiB are parsed in memory
MAX_PLAIN_LINE = 16 << 20  # a line without a streamable "content" may not exceed this
_CONTENT_KEY = re.compile(rb'"content"\s*:\s*"')


@dataclass(frozen=True)
class StreamedBlob:
    """An inline content that was streamed straight into the blob store."""

    sha256: str
    size: int


class _Base64Sink:
    """Decodes the raw JSON text of a base64 string arriving in pieces into a blob writer, strictly (see b64.py);
    writes overlap receiving."""

    def __init__(self, writer: BlobWriter) -> None:
        self.writer = writer
        self._sink = AsyncBlobSink(writer)
        self._decoder = b64.JsonBase64()

    async def feed(self, text: bytes) -> None:
        try:
            data = self._decoder.feed(text)
        except b64.Base64Error as exc:
            raise bad_request(f"Invalid base64 in an inline file content: {exc}.") from exc
        if data:
            await self._sink.write(data)

    async def close(self) -> StreamedBlob:
        try:
            data = self._decoder.finish()
        except b64.Base64Error as exc:
            raise bad_request(f"Invalid base64 at the end of an inline file content: {exc}.") from exc
        if data:
            await self._sink.write(data)
        sha = await self._sink.finish()
        return StreamedBlob(sha, self.writer.size)

    async def abort(self) -> None:
        await self._sink.abort()


@dataclass
class Limits:
    """What one commit body may hold besides its inline contents (docs/security.md)."""

    max_lines: int = 100_000  # header + operations
    max_metadata_bytes: int = 64 << 20  # all lines, not counting streamed inline contents


def _parse_lines(lines: list[bytes]) -> list[dict[str, Any]]:
    out = []
    for raw in lines:
        obj = limits.loads(raw, f"NDJSON line {raw[:80]!r}")
        if not isinstance(obj, dict):
            raise bad_request(f"Each NDJSON line must be a JSON object, got {raw[:80]!r}.")
        out.append(obj)
    return out


class _Lines:
    """Counts and bounds the lines, and parses small ones in batches on a worker thread (never on the loop)."""

    BATCH_BYTES = 256 << 10

    def __init__(self, on_line: Callable[[dict[str, Any]], Awaitable[None]], bounds: Limits) -> None:
        self.on_line = on_line
        self.bounds = bounds
        self.count = 0
        self.meta_bytes = 0
        self._batch: list[bytes] = []
        self._batch_bytes = 0

    def account(self, nbytes: int) -> None:
        self.count += 1
        self.meta_bytes += nbytes
        if self.count > self.bounds.max_lines:
            raise ApiError(
                413,
                f"The commit has more than {self.bounds.max_lines - 1} operations: split it into several commits.",
                "TooManyOperations",
            )
        if self.meta_bytes > self.bounds.max_metadata_bytes:
            raise ApiError(
                413,
                f"The commit's NDJSON lines (inline contents aside) exceed {self.bounds.max_metadata_bytes} bytes.",
                "TooLarge",
            )

    async def add(self, raw: bytes | bytearray) -> None:
        raw = bytes(raw).strip()
        if not raw:
            return
        self.account(len(raw))
        self._batch.append(raw)
        self._batch_bytes += len(raw)
        if self._batch_bytes >= self.BATCH_BYTES:
            await self.flush()

    async def flush(self) -> None:
        batch, self._batch, self._batch_bytes = self._batch, [], 0
        if batch:
            for obj in await anyio.to_thread.run_sync(_parse_lines, batch):
                await self.on_line(obj)


async def parse_ndjson(
    chunks: AsyncIterator[bytes],
    blobs: BlobStore,
    on_line: Callable[[dict[str, Any]], Awaitable[None]],
    bounds: Limits | None = None,
) -> None:
    """Feed every parsed line (a dict), in order, to ``on_line``; streamed contents appear as ``StreamedBlob``."""
    lines = _Lines(on_line, bounds or Limits())
    buf = bytearray()
    it = chunks.__aiter__()
    eof = False
    while True:
        start = 0
        while True:  # complete lines of at most SMALL_LINE bytes are parsed in memory
            nl = buf.find(b"\n", start, start + SMALL_LINE + 1)
            if nl < 0:
                break
            await lines.add(buf[start:nl])
            start = nl + 1
        if start:
            del buf[:start]
        if len(buf) > SMALL_LINE:  # a long line, complete or not: stream its content
            await lines.flush()  # keep the order of operations
            buf = bytearray(await _stream_long_line(buf, it, blobs, lines))
            continue
        if eof:
            break
        try:
            buf += await it.__anext__()
        except StopAsyncIteration:
            eof = True
    await lines.add(buf)
    await lines.flush()


async def _stream_long_line(
    buf: bytearray, it: AsyncIterator[bytes], blobs: BlobStore, lines: _Lines
) -> bytes:
    """Stream the base64 content of the current (long) line; return the bytes after its end-of-line."""
    line_end = buf.find(b"\n")
    m = None
    for cand in _CONTENT_KEY.finditer(buf, 0, line_end if line_end >= 0 else len(buf)):
        if cand.start() == 0 or buf[cand.start() - 1 : cand.start()] != b"\\":
            m = cand
            break
    if m is None:  # no inline content: an ordinary (if long) line, bounded by MAX_PLAIN_LINE
        while True:
            nl = buf.find(b"\n")
            if nl >= 0:
                if nl > MAX_PLAIN_LINE:
                    break
                await lines.add(buf[:nl])
                await lines.flush()
                return bytes(buf[nl + 1 :])
            if len(buf) > MAX_PLAIN_LINE:
                break
            try:
                buf += await it.__anext__()
            except StopAsyncIteration:  # the body's last line, without a final newline
                await lines.add(buf)
                await lines.flush()
                return b""
        raise ApiError(
            413, f"An NDJSON line exceeds {MAX_PLAIN_LINE} bytes without an inline file content.", "TooLarge"
        )
    prefix = bytes(buf[: m.start()]) + b'"content":"__streamed__"'
    sink = _Base64Sink(await anyio.to_thread.run_sync(blobs.writer))  # creates a file: not on the loop
    pending = bytes(buf[m.end() :])
    try:
        while True:
            q = pending.find(b'"')
            if q >= 0:
                await sink.feed(pending[:q])
                after = pending[q + 1 :]
                break
            await sink.feed(pending)
            try:
                pending = await it.__anext__()
            except StopAsyncIteration as exc:
                raise bad_request(
                    "The commit body ended in the middle of an inline file content (truncated)."
                ) from exc
        blob = await sink.close()
    except BaseException:
        await sink.abort()
        raise
    # collect the rest of the line (small: path, encoding)
    tail = bytearray(after)
    while b"\n" not in tail:
        if len(tail) > SMALL_LINE:
            raise bad_request("An NDJSON line continues for too long after its inline content.")
        try:
            tail += await it.__anext__()
        except StopAsyncIteration:
            break
    nl = tail.find(b"\n")
    line, rest = (tail, b"") if nl < 0 else (tail[:nl], bytes(tail[nl + 1 :]))
    raw = prefix + bytes(line)
    lines.account(len(raw))
    obj = limits.loads(raw, "The NDJSON line around an inline content")
    value = obj.get("value") if isinstance(obj, dict) else None
    if not isinstance(value, dict) or obj.get("key") != "file":
        raise bad_request("Malformed NDJSON 'file' line: expected {'key': 'file', 'value': {...}}.")
    if value.get("encoding", "base64") != "base64":
        raise bad_request(
            f"Inline content over {SMALL_LINE} bytes must be base64-encoded (encoding {value.get('encoding')!r})."
        )
    value["content"] = blob
    await lines.on_line(obj)
    return rest
