"""Shards: the upload form (header, file section, xorb section; no footer) parsed with every count bounded by the
body's size, and the full form (lookup tables + footer) the server builds for dedup answers.

Every record is 48 bytes, integers little-endian, hashes raw. Layout: ``../shared/xet-protocol.md`` section 6.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass

from . import hashing

MAX_SHARD_BYTES = 64 * 2**20
TAG = bytes.fromhex("4846526570 6f4d657461446174610055696745 6a7b815783a5bdd95ccdd14aa9".replace(" ", ""))
VERSION = 2
RECORD = 48
BOOKEND = b"\xff" * 32 + bytes(16)
FLAG_VERIFICATION = 0x80000000
FLAG_METADATA_EXT = 0x40000000


class ShardError(ValueError):
    """The shard is malformed (what and where is in the message)."""


@dataclass(frozen=True)
class Term:
    xorb: bytes
    unpacked_bytes: int
    start: int  # chunk index, inclusive
    end: int  # exclusive


@dataclass(frozen=True)
class FileInfo:
    file_hash: bytes
    terms: tuple[Term, ...]
    verification: tuple[bytes, ...] | None  # one range hash per term, when present
    sha256: str | None  # lowercase hex, when the metadata extension is present

    @property
    def size(self) -> int:
        return sum(t.unpacked_bytes for t in self.terms)


@dataclass(frozen=True)
class XorbInfo:
    xorb: bytes
    chunk_hashes: tuple[bytes, ...]
    chunk_sizes: tuple[int, ...]


@dataclass(frozen=True)
class Shard:
    files: tuple[FileInfo, ...]
    xorbs: tuple[XorbInfo, ...]


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def record(self, what: str) -> bytes:
        if self.pos + RECORD > len(self.data):
            raise ShardError(f"shard truncated in the {what} at byte {self.pos}")
        rec = self.data[self.pos : self.pos + RECORD]
        self.pos += RECORD
        return rec


def _file(r: _Reader, head: bytes) -> FileInfo:
    file_hash = head[:32]
    flags, n = struct.unpack_from("<II", head, 32)
    if n > (len(r.data) - r.pos) // RECORD:
        raise ShardError(f"file {hashing.to_hex(file_hash)} claims {n} terms, more than the shard holds")
    terms = []
    for _ in range(n):
        rec = r.record("file terms")
        _flags, ulen, start, end = struct.unpack_from("<IIII", rec, 32)
        if not start < end:
            raise ShardError(f"file {hashing.to_hex(file_hash)}: a term has chunk range [{start}, {end})")
        terms.append(Term(rec[:32], ulen, start, end))
    verification = None
    if flags & FLAG_VERIFICATION:
        verification = tuple(r.record("verification entries")[:32] for _ in range(n))
    sha256 = None
    if flags & FLAG_METADATA_EXT:
        sha256 = hashing.to_hex(r.record("file metadata")[:32])  # stored word-reversed: this is the real hex
    return FileInfo(file_hash, tuple(terms), verification, sha256)


def parse(data: bytes) -> Shard:
    """Parse an upload shard; ShardError on any malformation (wrong tag or version, truncation, trailing bytes)."""
    if len(data) > MAX_SHARD_BYTES:
        raise ShardError(f"shard of {len(data)} bytes; at most {MAX_SHARD_BYTES}")
    r = _Reader(data)
    head = r.record("header")
    if head[:32] != TAG:
        raise ShardError("not a Xet shard (wrong header tag)")
    version, footer_size = struct.unpack_from("<QQ", head, 32)
    if version != VERSION:
        raise ShardError(f"shard version {version}; only {VERSION} is understood")
    files = []
    while (rec := r.record("file section")) != BOOKEND:
        files.append(_file(r, rec))
    xorbs = []
    while (rec := r.record("xorb section")) != BOOKEND:
        _flags, n, _nbytes, _ondisk = struct.unpack_from("<IIII", rec, 32)
        if n > (len(data) - r.pos) // RECORD:
            raise ShardError(f"xorb {hashing.to_hex(rec[:32])} claims {n} chunks, more than the shard holds")
        hashes, sizes = [], []
        for _ in range(n):
            c = r.record("xorb chunks")
            hashes.append(c[:32])
            sizes.append(struct.unpack_from("<I", c, 36)[0])
        xorbs.append(XorbInfo(rec[:32], tuple(hashes), tuple(sizes)))
    if footer_size == 0 and r.pos != len(data):
        raise ShardError(f"{len(data) - r.pos} unexpected bytes after the shard's xorb section")
    return Shard(tuple(files), tuple(xorbs))


def dedup_shard(xorbs: list[tuple[bytes, list[tuple[bytes, int]]]], key: bytes, expiry_s: int) -> bytes:
    """A complete shard (empty file section, the given xorbs with their chunk hashes keyed by ``key``, lookup
    tables and footer) answering a global-dedup query: the client matches its own chunks against it."""
    out = bytearray(TAG + struct.pack("<QQ", VERSION, 200))
    file_info_offset = len(out)
    out += BOOKEND
    xorb_info_offset = len(out)
    xorb_lookup: list[tuple[int, int]] = []
    chunk_lookup: list[tuple[int, int, int]] = []
    index = 0
    stored = 0
    for xorb_h, chunks in xorbs:
        total = sum(s for _, s in chunks)
        stored += total
        out += xorb_h + struct.pack("<IIII", 0, len(chunks), total, 0)
        xorb_lookup.append((struct.unpack_from("<Q", xorb_h)[0], index))
        offset = 0
        for i, (h, size) in enumerate(chunks):
            kh = hashing.keyed(key, h)
            out += kh + struct.pack("<IIII", offset, size, 0, 0)
            chunk_lookup.append((struct.unpack_from("<Q", kh)[0], index, i))
            offset += size
        index += 1 + len(chunks)
    out += BOOKEND
    file_lookup_offset = len(out)
    xorb_lookup_offset = len(out)
    for k, i in sorted(xorb_lookup):
        out += struct.pack("<QI", k, i)
    chunk_lookup_offset = len(out)
    for k, i, c in sorted(chunk_lookup):
        out += struct.pack("<QII", k, i, c)
    footer_offset = len(out)
    now = int(time.time())
    out += struct.pack(
        "<9Q",
        1,
        file_info_offset,
        xorb_info_offset,
        file_lookup_offset,
        0,
        xorb_lookup_offset,
        len(xorb_lookup),
        chunk_lookup_offset,
        len(chunk_lookup),
    )
    out += key + struct.pack("<QQ", now, now + expiry_s) + bytes(48)
    out += struct.pack("<QQQQ", stored, stored, stored, footer_offset)
    assert len(out) - footer_offset == 200
    return bytes(out)
