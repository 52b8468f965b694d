"""Every process-local cache of the server, in one place, with the invalidation each needs.

| cache | key -> value | stale when | invalidation |
|---|---|---|---|
| ``hot`` | repo lookups, revision -> commit, small ``resolve`` answers | a ref moves, a repo changes | cleared on every committed write of this process (SQLAlchemy ``after_commit``); a TTL of 2 s bounds what other processes' writes leave stale (the scale-out issue replaces that with cross-process invalidation) |
| ``trees`` | tree id -> decoded tree | never (trees are content-addressed) | LRU only |
| ``commits`` | commit id -> commit row | never (commits are immutable) | LRU only |
| ``listings`` | (commit, path, recursive) -> tree listing | never (commits are immutable) | LRU only |
| ``cards`` | README blob SHA-256 -> parsed front matter | never (content-addressed) | LRU only |
| ``histories`` | head commit -> its history, newest first (the web commit list) | never (a commit's ancestors are fixed) | LRU only |
| ``derived`` | facts derived from immutable commits or blobs for the web pages: safetensors headers (by blob SHA-256), the paths each commit changed, last commit per entry of a folder (by commit + folder), rendered cards (by README SHA-256 + link base) | never | LRU only |

Tokens are *not* cached: every authenticated request checks its token against the database, so revocation
takes effect at once on every process.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")
MISS: Any = object()  # what ``HotCache.get`` answers for an absent or expired key


class LRU(Generic[K, V]):
    """A small thread-safe least-recently-used map, for values that never go stale."""

    def __init__(self, max_entries: int) -> None:
        self._data: OrderedDict[K, V] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._max:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


class HotCache:
    """Short-lived read-through cache of mutable facts (repo lookups, revision resolutions, small answers).

    Any committed write through this process's sessions clears it, and a generation counter stops a reader that
    started before a write from storing what it read. The TTL bounds staleness for writes of other processes."""

    def __init__(self, ttl: float = 2.0, max_entries: int = 50_000) -> None:
        self.ttl = ttl
        self.gen = 0
        self._max = max_entries
        self._data: dict[tuple[Any, ...], tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> Any:
        hit = self._data.get(key)
        if hit is None or hit[0] < time.monotonic():
            return MISS
        return hit[1]

    def put(self, key: tuple[Any, ...], value: Any, gen: int) -> None:
        with self._lock:
            if gen != self.gen:
                return
            if len(self._data) > self._max:
                self._data.clear()
            self._data[key] = (time.monotonic() + self.ttl, value)

    def invalidate(self, *_args: Any) -> None:
        with self._lock:
            self.gen += 1
            self._data.clear()


@dataclass
class Caches:
    """The caches of one ``HubService`` (one server process, or the admin CLI)."""

    hot: HotCache = field(default_factory=HotCache)
    trees: LRU[str, Any] = field(default_factory=lambda: LRU(256))
    commits: LRU[str, Any] = field(default_factory=lambda: LRU(4096))
    listings: LRU[tuple[str, str, bool], Any] = field(default_factory=lambda: LRU(16))
    cards: LRU[str, dict[str, Any]] = field(default_factory=lambda: LRU(512))
    derived: LRU[tuple[Any, ...], Any] = field(default_factory=lambda: LRU(8192))
    histories: LRU[str, Any] = field(default_factory=lambda: LRU(32))
