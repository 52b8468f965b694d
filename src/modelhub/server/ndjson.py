"""Streaming parser for the NDJSON commit body.

Small lines are parsed whole. A line that grows past ``SMALL_LINE`` bytes is a ``file`` operation carrying a big
inline base64 ``content`` (what the official client sends when told ``uploadMode: regular``): its base64 is decoded
on the fly into a blob writer, so a multi-GB file never sits in memory; the rest of the line (path, encoding) is
parsed as JSON with ``content`` replaced by a reference to the stored blob.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ._aio import AsyncBlobSink
from .blobstore import BlobStore, BlobWriter
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
    """Decodes base64 text arriving in arbitrary pieces into a blob writer (writes overlap receiving)."""

    def __init__(self, writer: BlobWriter) -> None:
        self.writer = writer
        self._sink = AsyncBlobSink(writer)
        self._carry = b""

    async def feed(self, text: bytes) -> None:
        if b"\\" in text:
            text = text.replace(b"\\", b"")  # JSON may escape "/" as a backslash + "/"
        data = self._carry + text
        cut = len(data) - len(data) % 4
        self._carry = data[cut:]
        if cut:
            try:
                await self._sink.write(binascii.a2b_base64(data[:cut]))
            except binascii.Error as exc:
                raise bad_request(f"Invalid base64 in an inline file content: {exc}.") from exc

    async def close(self) -> StreamedBlob:
        if self._carry:
            try:
                await self._sink.write(base64.b64decode(self._carry + b"=" * (-len(self._carry) % 4)))
            except binascii.Error as exc:
                raise bad_request(f"Invalid base64 at the end of an inline file content: {exc}.") from exc
        sha = await self._sink.finish()
        return StreamedBlob(sha, self.writer.size)

    async def abort(self) -> None:
        await self._sink.abort()


async def parse_ndjson(
    chunks: AsyncIterator[bytes], blobs: BlobStore, on_line: Callable[[dict[str, Any]], Awaitable[None]]
) -> None:
    """Feed every parsed line (a dict) to ``on_line``; streamed contents appear as ``StreamedBlob`` values."""
    buf = bytearray()
    it = chunks.__aiter__()

    async def emit(raw: bytes | bytearray) -> None:
        raw = bytes(raw).strip()
        if not raw:
            return
        try:
            obj = json.loads(raw)
        except ValueError as exc:
            raise bad_request(f"Malformed NDJSON line in the commit body ({exc}): {raw[:80]!r}...") from exc
        if not isinstance(obj, dict):
            raise bad_request(f"Each NDJSON line must be a JSON object, got {raw[:80]!r}.")
        await on_line(obj)

    eof = False
    while True:
        start = 0
        while True:  # complete lines of at most SMALL_LINE bytes are parsed in memory
            nl = buf.find(b"\n", start, start + SMALL_LINE + 1)
            if nl < 0:
                break
            await emit(buf[start:nl])
            start = nl + 1
        if start:
            del buf[:start]
        if len(buf) > SMALL_LINE:  # a long line, complete or not: stream its content
            buf = bytearray(await _stream_long_line(buf, it, blobs, emit, on_line))
            continue
        if eof:
            break
        try:
            buf += await it.__anext__()
        except StopAsyncIteration:
            eof = True
    await emit(buf)


async def _stream_long_line(
    buf: bytearray,
    it: AsyncIterator[bytes],
    blobs: BlobStore,
    emit: Callable[[bytes], Awaitable[None]],
    on_line: Callable[[dict[str, Any]], Awaitable[None]],
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
                await emit(buf[:nl])
                return bytes(buf[nl + 1 :])
            if len(buf) > MAX_PLAIN_LINE:
                break
            try:
                buf += await it.__anext__()
            except StopAsyncIteration:  # the body's last line, without a final newline
                await emit(buf)
                return b""
        raise ApiError(
            413, f"An NDJSON line exceeds {MAX_PLAIN_LINE} bytes without an inline file content.", "TooLarge"
        )
    prefix = bytes(buf[: m.start()]) + b'"content":"__streamed__"'
    sink = _Base64Sink(blobs.writer())
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
    try:
        obj = json.loads(raw)
    except ValueError as exc:
        raise bad_request(f"Malformed NDJSON line around an inline content: {exc}.") from exc
    value = obj.get("value") if isinstance(obj, dict) else None
    if not isinstance(value, dict):
        raise bad_request("Malformed NDJSON 'file' line: expected {'key': 'file', 'value': {...}}.")
    value["content"] = blob
    await on_line(obj)
    return rest
