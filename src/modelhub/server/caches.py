"""Every process-local cache of the server, in one place, with the invalidation each needs.

| cache | key -> value | stale when | invalidation |
|---|---|---|---|
| ``hot`` | repo lookups, revision -> commit, small ``resolve`` answers, tree pages up to 64 KiB, like counts | any write (a ref moves, a repo, member, like or token changes, a Xet file is registered), by any process | every writing transaction bumps ``hub_state.generation`` in the database (``storage.db.count_writes``); each request that would use the cache first reads that generation (in the same statement as its token, or alone when anonymous) and ``sync`` clears the cache when it moved; also cleared on every commit of this process |
| ``trees`` | tree id -> decoded tree | never (trees are content-addressed) | LRU only |
| ``commits`` | commit id -> commit row | never (commits are immutable) | LRU only |
| ``listings`` | (commit, path, recursive) -> tree listing | never (commits are immutable) | LRU only |
| ``cards`` | README blob SHA-256 -> parsed front matter | never (content-addressed) | LRU only |
| ``histories`` | head commit -> its history, newest first (the web commit list) | never (a commit's ancestors are fixed) | LRU only |
| ``derived`` | facts derived from immutable commits or blobs for the web pages: safetensors headers (by blob SHA-256), the paths each commit changed, last commit per entry of a folder (by commit + folder), rendered cards (by README SHA-256 + link base) | never | LRU only |

Outside this table, ``domain.downloads.DownloadCounter`` keeps the stored download counts it read for 1 s (or
until this process writes a batch): download counts, which the Hub itself updates lazily, are the one answer that
may trail another process's writes (by its flush interval plus that second).

So every process answers as if it had no cache, whatever other processes (or the admin CLI) wrote before the
request began. Tokens are *not* cached: every authenticated request checks its token against the database, so
revocation takes effect at once on every process.
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

    Any committed write through this process's sessions clears it, and a local generation counter stops a reader
    that started before a write from storing what it read. Writes of other processes: ``sync`` with the database's
    write generation before use. The TTL only bounds memory held by entries nobody asks for."""

    def __init__(self, ttl: float = 30.0, max_entries: int = 50_000) -> None:
        self.ttl = ttl
        self.gen = 0
        self.db_generation: int | None = None
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

    def sync(self, db_generation: int) -> None:
        """Clear everything if the database was written (by anyone) since the cache last looked."""
        if db_generation != self.db_generation:
            self.invalidate()
            self.db_generation = db_generation

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
