"""Helpers of the Xet tests: what the server's access log says a piece of client work sent where."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

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
