"""Download counts as the Hub counts them: every GET or HEAD of a repo's *query files* is one download (for models
the root-level ``config.json``, ``config.yaml``, ``hyperparams.yaml`` or ``meta.yaml``, or the library's own file;
for datasets the root ``README.md``, which ``load_dataset`` reads once per load). ``downloads`` is the sum of the
last 30 days (UTC), ``downloadsAllTime`` of all days.

The resolve path must stay cheap: ``DownloadCounter.hit`` only adds to an in-memory dict under a lock; a
background thread adds the counts to ``repo_downloads`` (one upsert per repo and day) every ``interval`` seconds
and at exit, through a Core connection (which, unlike a Session commit, does not flush the hot caches). Answers
add the counts of this process not yet written, so a download shows at once on the process that served it; an
answer read while a batch is being written waits for that write (the batch is then in neither the dict nor the
table for a moment) and reads again if one began meanwhile. A crash loses at most ``interval`` seconds of counts
of that process.

The stored counts of a repo are read again after at most ``STORED_TTL_S`` or as soon as this process wrote a
batch (repo info is asked for often, by every ``from_pretrained``): another process's downloads then show within
its ``interval`` plus ``STORED_TTL_S``."""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import threading
import time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from ..storage.db import RepoDownloads, utcnow

logger = logging.getLogger(__name__)

DEFAULT_QUERY_FILES = frozenset({"config.json", "config.yaml", "hyperparams.yaml", "meta.yaml"})
# libraries whose models are counted on another file (as the Hub's model-libraries table does)
LIBRARY_QUERY_FILES = {
    "diffusers": frozenset({"model_index.json"}),
    "sentence-transformers": frozenset({"config_sentence_transformers.json", "config.json"}),
    "peft": frozenset({"adapter_config.json"}),
    "keras": frozenset({"saved_model.pb", "config.json"}),
    "open_clip": frozenset({"open_clip_config.json", "open_clip_pytorch_model.bin"}),
}
LIBRARY_EXTENSIONS = {"gguf": ".gguf", "nemo": ".nemo", "llama.cpp": ".gguf"}
WINDOW_DAYS = 30
_WRITE_WAIT_S = 5.0  # longest a reader waits for a batch write (a database that slow: answers may undercount)
STORED_TTL_S = 1.0  # how long the stored counts of a repo, as read, stand for the table


def is_query_file(repo_type: str, path: str, library: str | None) -> bool:
    """Whether a GET/HEAD of ``path`` counts as a download of the repo."""
    if repo_type == "dataset":
        return path == "README.md"
    if repo_type != "model":
        return False
    if library in LIBRARY_EXTENSIONS:
        return path.endswith(LIBRARY_EXTENSIONS[library])
    if "/" in path:
        return False
    return path in LIBRARY_QUERY_FILES.get(library or "", DEFAULT_QUERY_FILES)


class DownloadCounter:
    def __init__(self, sessions: sessionmaker, interval: float = 2.0) -> None:
        self._engine = sessions.kw["bind"]
        self._interval = interval
        self._lock = threading.Lock()
        self._pending: dict[tuple[int, dt.date], int] = {}
        # a batch taken out of _pending is in the table only once its transaction committed: readers of the counts
        # wait while a write is under way (_writing) and read again if one began during their query (_writes)
        self._written = threading.Condition(self._lock)
        self._writing = False
        self._writes = 0
        self._flush_lock = threading.Lock()  # one write at a time: the thread's, or the one at shutdown
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        # repo pk -> (monotonic time read, writes begun by then, stored counts): valid while no batch of ours began
        self._stored: dict[int, tuple[float, int, tuple[int, int]]] = {}

    def hit(self, repo_pk: int) -> None:
        key = (repo_pk, utcnow().date())
        with self._lock:
            self._pending[key] = self._pending.get(key, 0) + 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="download-counts", daemon=True)
                self._thread.start()
                atexit.register(self.flush)

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            self.flush()

    def flush(self) -> None:
        """Write the pending counts: one transaction, else row by row (a repo deleted meanwhile fails its foreign
        key; its count is dropped, the others are kept)."""
        with self._flush_lock:
            with self._lock:
                batch, self._pending = self._pending, {}
                if not batch:
                    return
                self._writing = True
                self._writes += 1
            try:
                self._write(batch)
            finally:
                with self._lock:
                    self._writing = False
                    self._written.notify_all()

    def _write(self, batch: dict[tuple[int, dt.date], int]) -> None:
        try:
            with self._engine.begin() as conn:
                for (repo_pk, day), n in batch.items():
                    conn.execute(_upsert(conn.dialect.name, repo_pk, day, n))
            return
        except Exception:
            pass
        for (repo_pk, day), n in batch.items():
            try:
                with self._engine.begin() as conn:
                    conn.execute(_upsert(conn.dialect.name, repo_pk, day, n))
            except Exception as exc:
                logger.warning("dropped %d downloads of repo %d: %s", n, repo_pk, exc)

    def _pending_of(self, repo_pks: list[int]) -> dict[int, int]:
        """Counts of this process not written yet (all within today, so inside the 30-day window); under _lock."""
        wanted = set(repo_pks)
        out: dict[int, int] = {}
        for (pk, _day), n in self._pending.items():
            if pk in wanted:
                out[pk] = out.get(pk, 0) + n
        return out

    def _quiet(self) -> int:
        """Wait (a bounded time) until no batch is being written; the number of writes begun so far. Under _lock."""
        self._written.wait_for(lambda: not self._writing, timeout=_WRITE_WAIT_S)
        return self._writes

    def counts(self, db: Any, repo_pks: list[int]) -> dict[int, tuple[int, int]]:
        """repo pk -> (downloads of the last 30 days, downloads of all time)."""
        if not repo_pks:
            return {}
        since = utcnow().date() - dt.timedelta(days=WINDOW_DAYS - 1)
        recent = func.sum(RepoDownloads.count).filter(RepoDownloads.day >= since)
        query = (
            select(RepoDownloads.repo_pk, func.coalesce(recent, 0), func.sum(RepoDownloads.count))
            .where(RepoDownloads.repo_pk.in_(repo_pks))
            .group_by(RepoDownloads.repo_pk)
        )
        now = time.monotonic()
        with self._lock:
            fresh = {
                pk: hit[2]
                for pk in repo_pks
                if (hit := self._stored.get(pk)) is not None
                and now - hit[0] < STORED_TTL_S
                and hit[1] == self._writes
                and not self._writing
            }
            if len(fresh) == len(repo_pks):  # none of our batches began since they were read: none is missing
                return self._add(fresh, self._pending_of(repo_pks))
        for attempt in range(3):  # a write begun during the query: its batch may be in both or neither
            with self._lock:
                before = self._quiet()
            out = {pk: (int(r), int(a)) for pk, r, a in db.execute(query)}
            with self._lock:  # what is pending now is in no committed batch: none began since `before`
                if (self._writes == before and not self._writing) or attempt == 2:
                    extra = self._pending_of(repo_pks)
                    if self._writes == before and not self._writing:
                        if len(self._stored) > 10_000:
                            self._stored.clear()
                        for pk in repo_pks:
                            self._stored[pk] = (now, before, out.get(pk, (0, 0)))
                    break
        return self._add(out, extra)

    @staticmethod
    def _add(out: dict[int, tuple[int, int]], extra: dict[int, int]) -> dict[int, tuple[int, int]]:
        for pk, n in extra.items():
            r, a = out.get(pk, (0, 0))
            out[pk] = (r + n, a + n)
        return out


def _upsert(dialect: str, repo_pk: int, day: dt.date, n: int) -> Any:
    """INSERT the day's count, or add it to the stored one (SQLite and PostgreSQL: ON CONFLICT DO UPDATE)."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(RepoDownloads).values(repo_pk=repo_pk, day=day, count=n)
    return stmt.on_conflict_do_update(
        index_elements=["repo_pk", "day"], set_={"count": RepoDownloads.count + stmt.excluded.count}
    )
