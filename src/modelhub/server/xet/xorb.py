"""Xorb bytes: chunk records (8-byte header + payload), their decompression, and the full check of an upload.

A serialized xorb is a sequence of chunk records, optionally followed by an ``XETBLOB`` footer (older clients;
hf_xet 1.8.0 sends none). The server keeps only the chunk section and its own index of it; the footer is checked
for shape and dropped. Layout and limits: ``../shared/xet-protocol.md`` section 5.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

import lz4.frame

from . import hashing

MAX_UNPACKED_BYTES = 64 * 2**20  # the content of one xorb (hf_xet cuts xorbs there)
# its chunk section: the content plus 8-byte headers and LZ4 frame overhead (uncompressible chunks go stored)
MAX_XORB_BYTES = MAX_UNPACKED_BYTES + 2 * 2**20
MAX_FOOTER_BYTES = 92 + 40 * 8192 + 64
MAX_CHUNKS = 8192
MAX_CHUNK = 128 * 1024  # uncompressed
MAX_PAYLOAD = 256 * 1024
HEADER = 8
FOOTER_MAGIC = b"XETBLOB"
SCHEME_NONE, SCHEME_LZ4, SCHEME_BG4_LZ4 = 0, 1, 2


class XorbError(ValueError):
    """The xorb bytes are malformed or do not hash to the name they were sent under."""


@dataclass(frozen=True)
class ChunkIndex:
    """The server's index of a stored xorb: per chunk its hash, the end of its record in the chunk section and the
    end of its bytes in the xorb's uncompressed content (both cumulative, so starts are the previous ends)."""

    hashes: tuple[bytes, ...]
    record_ends: tuple[int, ...]
    unpacked_ends: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.hashes)

    def record_start(self, i: int) -> int:
        return self.record_ends[i - 1] if i else 0

    def unpacked_start(self, i: int) -> int:
        return self.unpacked_ends[i - 1] if i else 0

    def unpacked_size(self, i: int) -> int:
        return self.unpacked_ends[i] - self.unpacked_start(i)

    def pack(self) -> bytes:
        """40 bytes per chunk: hash, record end, unpacked end (little-endian u32s)."""
        return b"".join(
            h + struct.pack("<II", r, u)
            for h, r, u in zip(self.hashes, self.record_ends, self.unpacked_ends, strict=True)
        )

    @classmethod
    def unpack(cls, data: bytes) -> ChunkIndex:
        n = len(data) // 40
        hashes, rec, unp = [], [], []
        for i in range(n):
            off = i * 40
            hashes.append(data[off : off + 32])
            r, u = struct.unpack_from("<II", data, off + 32)
            rec.append(r)
            unp.append(u)
        return cls(tuple(hashes), tuple(rec), tuple(unp))


def _bg4_ungroup(grouped: bytes) -> bytes:
    n = len(grouped)
    out = bytearray(n)
    pos = 0
    for k in range(4):
        size = n // 4 + (1 if k < n % 4 else 0)
        out[k::4] = grouped[pos : pos + size]
        pos += size
    return bytes(out)


def decompress(scheme: int, payload: bytes | memoryview, size: int) -> bytes:
    """The ``size`` uncompressed bytes of one chunk; XorbError if they do not come out exactly."""
    if scheme == SCHEME_NONE:
        data = bytes(payload)
    elif scheme in (SCHEME_LZ4, SCHEME_BG4_LZ4):
        try:
            # max_length bounds the output whatever the frame claims (a decompression bomb stops here)
            data = lz4.frame.LZ4FrameDecompressor().decompress(payload, max_length=size + 1)
        except RuntimeError as exc:
            raise XorbError(f"a chunk's LZ4 frame is corrupt ({exc})") from exc
        if scheme == SCHEME_BG4_LZ4 and len(data) == size:
            data = _bg4_ungroup(data)
    else:
        raise XorbError(f"unknown chunk compression scheme {scheme}")
    if len(data) != size:
        raise XorbError(f"a chunk decompressed to {len(data)} bytes, its header says {size}")
    return data


def chunk_data(rec: memoryview, size: int, view: bool = False) -> bytes | memoryview:
    """The ``size`` content bytes of one chunk record (header + payload); with ``view``, those of a stored chunk
    as a view of ``rec`` (no copy)."""
    payload = rec[HEADER:]
    if view and rec[4] == SCHEME_NONE and len(payload) == size:
        return payload
    return decompress(rec[4], payload, size)


def iter_content(section: bytes | memoryview, index: ChunkIndex) -> Iterator[bytes | memoryview]:
    """The content of a verified xorb's chunks in order (views where stored)."""
    view = memoryview(section)
    for i in range(len(index)):
        yield chunk_data(view[index.record_start(i) : index.record_ends[i]], index.unpacked_size(i), True)


def iter_records(section: bytes | memoryview, base: int = 0) -> Iterator[tuple[int, int, int, memoryview]]:
    """(record end offset + ``base``, scheme, uncompressed size, payload) of each chunk record of ``section``,
    stopping at an ``XETBLOB`` footer; XorbError on a malformed header or a truncated record."""
    view = memoryview(section)
    pos = 0
    while pos < len(view):
        if view[pos : pos + 7] == FOOTER_MAGIC:
            return
        if len(view) - pos < HEADER:
            raise XorbError(f"truncated chunk header at byte {base + pos}")
        version = view[pos]
        clen = int.from_bytes(view[pos + 1 : pos + 4], "little")
        scheme = view[pos + 4]
        ulen = int.from_bytes(view[pos + 5 : pos + 8], "little")
        if version != 0:
            raise XorbError(f"chunk record at byte {base + pos} has version {version} (expected 0)")
        if ulen > MAX_CHUNK or clen > MAX_PAYLOAD or ulen == 0:
            raise XorbError(f"chunk record at byte {base + pos} declares {clen}/{ulen} bytes (out of bounds)")
        end = pos + HEADER + clen
        if end > len(view):
            raise XorbError(f"chunk record at byte {base + pos} is truncated")
        yield base + end, scheme, ulen, view[pos + HEADER : end]
        pos = end


def _check_footer(footer: memoryview) -> None:
    if len(footer) < 92 or footer[:7] != FOOTER_MAGIC:
        raise XorbError("trailing bytes after the last chunk are not a xorb footer")
    if struct.unpack_from("<I", footer, len(footer) - 4)[0] != len(footer) - 4:
        raise XorbError("the xorb footer's length field does not match its size")


def verify(data: bytes | memoryview, expected: bytes) -> tuple[int, ChunkIndex]:
    """Check an uploaded xorb: every record well-formed and decompressing to its declared size, at most
    ``MAX_CHUNKS`` chunks, nothing after them but a footer, and the Merkle root of the chunk hashes equal to
    ``expected``. Returns (length of the chunk section, its index)."""
    hashes: list[bytes] = []
    rec_ends: list[int] = []
    unp_ends: list[int] = []
    unpacked = 0
    end = 0
    for end, scheme, ulen, payload in iter_records(data):
        if len(hashes) == MAX_CHUNKS:
            raise XorbError(f"more than {MAX_CHUNKS} chunks in one xorb")
        raw = payload if scheme == SCHEME_NONE and len(payload) == ulen else decompress(scheme, payload, ulen)
        hashes.append(hashing.chunk_hash(raw))  # a stored chunk is hashed in place (no copy)
        unpacked += ulen
        rec_ends.append(end)
        unp_ends.append(unpacked)
    if not hashes:
        raise XorbError("the xorb has no chunks")
    if end > MAX_XORB_BYTES or unpacked > MAX_UNPACKED_BYTES:
        raise XorbError(
            f"the xorb's chunks take {end} bytes ({unpacked} uncompressed), more than the limits"
            f" ({MAX_XORB_BYTES}, {MAX_UNPACKED_BYTES})"
        )
    if end < len(data):
        _check_footer(memoryview(data)[end:])
    sizes = [u - prev for u, prev in zip(unp_ends, [0, *unp_ends[:-1]], strict=True)]
    got = hashing.xorb_hash(list(zip(hashes, sizes, strict=True)))
    if got != expected:
        raise XorbError(
            f"the xorb's chunks hash to {hashing.to_hex(got)}, not {hashing.to_hex(expected)} (its name)"
        )
    return end, ChunkIndex(tuple(hashes), tuple(rec_ends), tuple(unp_ends))
