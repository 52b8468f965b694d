"""Xet hashes: chunk hash, the Merkle root of xorbs and files, file hash, term verification hash, and the string form.

All are keyed BLAKE3 (32-byte keys, 32-byte output); the keys and the Merkle cut rule are the reference
implementation's (``xet_core_structures/src/merklehash``), written down in ``../shared/xet-protocol.md`` section 7.
A hash is kept as 32 raw bytes; its string form (URLs, JSON, node text) byte-reverses each 8-byte word.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import blake3

DATA_KEY = bytes(
    [102, 151, 245, 119, 91, 149, 80, 222, 49, 53, 203, 172, 165, 151, 24, 28]
    + [157, 228, 33, 16, 155, 235, 43, 88, 180, 208, 176, 75, 147, 173, 242, 41]
)
INTERNAL_NODE_KEY = bytes(
    [1, 126, 197, 199, 165, 71, 41, 150, 253, 148, 102, 102, 180, 138, 2, 230]
    + [93, 221, 83, 111, 55, 199, 109, 210, 248, 99, 82, 230, 74, 83, 113, 63]
)
VERIFICATION_KEY = bytes(
    [127, 24, 87, 214, 206, 86, 237, 102, 18, 127, 249, 19, 231, 165, 195, 243]
    + [164, 205, 38, 213, 181, 219, 73, 230, 65, 36, 152, 127, 40, 251, 148, 195]
)
ZERO = bytes(32)
_MAX_GROUP = 9  # 2 * mean branching factor (4) + 1


_WORDS_LE, _WORDS_BE = struct.Struct("<4Q"), struct.Struct(">4Q")  # read one way, written the other: reversed


def to_hex(raw: bytes) -> str:
    """The string form: each 8-byte word byte-reversed, then lowercase hex (on every Merkle node: kept fast)."""
    return _WORDS_BE.pack(*_WORDS_LE.unpack(raw)).hex()


def from_hex(text: str) -> bytes:
    """Inverse of ``to_hex``; ValueError unless 64 hex characters."""
    if len(text) != 64:
        raise ValueError(f"a Xet hash is 64 hex characters, not {len(text)}")
    return _WORDS_LE.pack(*_WORDS_BE.unpack(bytes.fromhex(text)))


def is_hex_hash(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def chunk_hash(data: bytes | memoryview) -> bytes:
    return blake3.blake3(data, key=DATA_KEY).digest()


def _cut(nodes: Sequence[tuple[bytes, int]], start: int) -> int:
    """How many nodes from ``start`` form the next group (at least 2, at most 9, ending at a "natural" cut)."""
    left = len(nodes) - start
    if left <= 2:
        return left
    end = min(_MAX_GROUP, left)
    for i in range(2, end):
        if struct.unpack_from("<Q", nodes[start + i][0], 24)[0] % 4 == 0:
            return i + 1
    return end


def _merge(group: Sequence[tuple[bytes, int]]) -> tuple[bytes, int]:
    text = "".join(f"{to_hex(h)} : {size}\n" for h, size in group)
    return blake3.blake3(text.encode(), key=INTERNAL_NODE_KEY).digest(), sum(s for _, s in group)


def merkle_root(leaves: Sequence[tuple[bytes, int]]) -> bytes:
    """Root of the aggregated-hash tree over (hash, size) leaves; 32 zero bytes for none."""
    nodes = list(leaves)
    if not nodes:
        return ZERO
    while len(nodes) > 1:
        merged = []
        i = 0
        while i < len(nodes):
            n = _cut(nodes, i)
            merged.append(_merge(nodes[i : i + n]))
            i += n
        nodes = merged
    return nodes[0][0]


def xorb_hash(chunks: Sequence[tuple[bytes, int]]) -> bytes:
    return merkle_root(chunks)


def file_hash(chunks: Sequence[tuple[bytes, int]]) -> bytes:
    """The file hash over all of a file's chunks in order (zero salt); 32 zero bytes for an empty file."""
    if not chunks:
        return ZERO
    return blake3.blake3(merkle_root(chunks), key=ZERO).digest()


def verification_hash(chunk_hashes: Sequence[bytes]) -> bytes:
    """The verification entry of a term: keyed BLAKE3 of the raw concatenation of its chunk hashes."""
    return blake3.blake3(b"".join(chunk_hashes), key=VERIFICATION_KEY).digest()


def keyed(key: bytes, h: bytes) -> bytes:
    """A chunk hash as a dedup answer shows it when keyed with ``key`` (the client keys its own to match)."""
    return blake3.blake3(h, key=key).digest()
