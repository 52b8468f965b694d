"""Helpers of the Xet tests: what the server's access log says a piece of client work sent where."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .._hub import client_env

_LINE = re.compile(r'"([A-Z]+) ([^ "]*)" (\d{3}) (\d+)B [0-9.]+ms in=(\d+)B')


@dataclass(frozen=True)
class Hit:
    method: str
    path: str
    status: int
    sent: int
    received: int


@dataclass
class Traffic:
    hits: list[Hit] = field(default_factory=list)

    def to(self, method: str, prefix: str, status: int | None = None) -> list[Hit]:
        return [
            h
            for h in self.hits
            if h.method == method and h.path.startswith(prefix) and (status is None or h.status == status)
        ]

    def cas_received(self) -> int:
        """Bytes the CAS routes received (xorbs and shards)."""
        return sum(h.received for h in self.hits if h.path.startswith("/cas/"))

    def commit_received(self) -> int:
        return sum(h.received for h in self.hits if "/commit/" in h.path)


@contextmanager
def traffic(server) -> Iterator[Traffic]:
    """The requests the server logged while the block ran (the session's server is shared: only new lines)."""
    before = len(server.log())
    out = Traffic()
    yield out
    for line in server.log()[before:].splitlines():
        m = _LINE.search(line)
        if m:
            out.hits.append(Hit(m[1], m[2], int(m[3]), int(m[4]), int(m[5])))


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def write_random(path: Path, size: int, seed: int = 0) -> str:
    """A file of ``size`` pseudo-random bytes (incompressible, deterministic per seed); returns its SHA-256."""
    import random

    rnd = random.Random(seed)
    h = hashlib.sha256()
    with open(path, "wb") as fh:
        left = size
        while left:
            block = rnd.randbytes(min(left, 1 << 20))
            fh.write(block)
            h.update(block)
            left -= len(block)
    return h.hexdigest()


# --- hand-made xorbs and shards (protocol-level tests) ------------------------------------------------------


def make_xorb(chunks: list[bytes], lz4: bool = False) -> tuple[str, bytes]:
    """(hash string, serialized chunk records) of a xorb holding ``chunks``."""
    import lz4.frame as lz4f

    from modelhub.server.xet import hashing

    out = bytearray()
    for c in chunks:
        payload, scheme = (lz4f.compress(c), 1) if lz4 else (c, 0)
        out += (
            bytes([0]) + len(payload).to_bytes(3, "little") + bytes([scheme]) + len(c).to_bytes(3, "little")
        )
        out += payload
    leaves = [(hashing.chunk_hash(c), len(c)) for c in chunks]
    return hashing.to_hex(hashing.xorb_hash(leaves)), bytes(out)


def make_shard(
    xorbs: dict[str, list[bytes]],
    terms: list[tuple[str, int, int]],
    *,
    sha256: str | None = None,
    file_hash: bytes | None = None,
    verification: list[bytes] | None = None,
    list_xorbs: bool = True,
) -> tuple[str, str, bytes]:
    """(file hash string, SHA-256, upload shard) of one file made of ``terms`` (xorb, first chunk, end chunk)
    over the chunk lists of ``xorbs``; the keyword arguments override what is declared (for bad-input tests)."""
    import struct

    from modelhub.server.xet import hashing, shard

    content = b"".join(c for x, a, b in terms for c in xorbs[x][a:b])
    leaves = [(hashing.chunk_hash(c), len(c)) for x, a, b in terms for c in xorbs[x][a:b]]
    fh = file_hash or hashing.file_hash(leaves)
    sha = sha256 or hashlib.sha256(content).hexdigest()
    out = bytearray(shard.TAG + struct.pack("<QQ", 2, 0))
    out += fh + struct.pack("<II", 0xC0000000, len(terms)) + bytes(8)
    for x, a, b in terms:
        size = sum(len(c) for c in xorbs[x][a:b])
        out += hashing.from_hex(x) + struct.pack("<IIII", 0, size, a, b)
    checks = verification or [
        hashing.verification_hash([hashing.chunk_hash(c) for c in xorbs[x][a:b]]) for x, a, b in terms
    ]
    for v in checks:
        out += v + bytes(16)
    out += hashing.from_hex(sha) + bytes(16)
    out += shard.BOOKEND
    for x, chunks in xorbs.items() if list_xorbs else ():
        out += hashing.from_hex(x) + struct.pack("<IIII", 0, len(chunks), sum(map(len, chunks)), 0)
        offset = 0
        for c in chunks:
            out += hashing.chunk_hash(c) + struct.pack("<IIII", offset, len(c), 0, 0)
            offset += len(c)
    out += shard.BOOKEND
    return hashing.to_hex(fh), sha, bytes(out)


# --- the official client in a process of its own (its own HF_HOME, so its own Xet cache) -------------------

UPLOAD = textwrap.dedent(
    """
    import sys
    from huggingface_hub import HfApi
    url, token, repo, path, name = sys.argv[1:6]
    HfApi(endpoint=url, token=token).upload_file(path_or_fileobj=path, path_in_repo=name, repo_id=repo)
    print("UPLOADED", flush=True)
    """
)


def start_upload(
    url: str, token: str, repo: str, path: Path, home: Path, name: str = "big.bin"
) -> subprocess.Popen[str]:
    """``upload_file`` by the official client (default install: hf_xet) in a subprocess."""
    return subprocess.Popen(
        [sys.executable, "-c", UPLOAD, url, token, repo, str(path), name],
        env=client_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def upload(url: str, token: str, repo: str, path: Path, home: Path, name: str = "big.bin") -> None:
    out, err = start_upload(url, token, repo, path, home, name).communicate(timeout=900)
    assert "UPLOADED" in out, err[-3000:]
