"""Single-statement reads awaited on the event loop (PostgreSQL only): the hottest path's token check.

Why: every cached ``resolve`` answer still needs one database read (the token, and the write generation that the
hot caches sync with). Done on a worker thread, that read costs two thread hops and their GIL handoffs per
request; on a loaded machine the handoffs wait for a core, and a process served fewer requests with 2 cores than
with 1 (``benchmarks/scale.py``: 1,138 vs 1,251 req/s, 1,288 µs of hub CPU per request instead of 810). Awaited
on the loop through psycopg's asyncio connection pool, the read needs no thread at all.

The statements are the same SQLAlchemy Core ones the synchronous paths run, compiled once for the engine's
dialect; their columns come back as psycopg decodes them, which is what SQLAlchemy's PostgreSQL dialect hands on
for the plain types used here (integers, text, booleans, naive timestamps). SQLite has no asyncio driver worth
its thread: ``for_engine`` answers None and the callers keep their worker-thread path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.sql import ClauseElement

from .db import GENERATION

logger = logging.getLogger(__name__)

POOL_SIZE = 8  # connections per process: a query takes well under a millisecond, requests wait on the loop
PAUSE_AFTER_FAILURE = 5.0  # seconds the callers take their worker-thread path after a failed read


class AsyncReads:
    """A lazily opened psycopg ``AsyncConnectionPool`` (autocommit: one round trip per statement, no BEGIN or
    ROLLBACK) on the engine's database, for statements with at most one row of answer."""

    def __init__(self, engine: Engine, max_size: int = POOL_SIZE) -> None:
        self._engine = engine
        self._conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._max = max_size
        self._pool: Any = None
        self._opening: asyncio.Lock | None = None
        # id(statement) -> (the statement, kept so that its id stays its own; its SQL; its constants' values)
        self._sql: dict[int, tuple[ClauseElement, str, dict[str, Any]]] = {}
        self._paused_until = 0.0

    @property
    def available(self) -> bool:
        """False for a few seconds after a read failed (database down, pool not opened): callers use their
        worker-thread path meanwhile, which reports the error, instead of each waiting for a pool timeout."""
        return time.monotonic() >= self._paused_until

    def failed(self, exc: BaseException) -> None:
        """A read failed: pause the asyncio reads and log it (once per pause, not once per request)."""
        if self.available:
            logger.warning(
                "asyncio read of PostgreSQL failed (%s: %s): worker threads answer for %.0f s",
                type(exc).__name__,
                exc,
                PAUSE_AFTER_FAILURE,
            )
        self._paused_until = time.monotonic() + PAUSE_AFTER_FAILURE

    @classmethod
    def for_engine(cls, engine: Engine) -> AsyncReads | None:
        if engine.dialect.name != "postgresql":
            return None
        try:
            import psycopg_pool  # noqa: F401  (the postgres extra)
        except ImportError:
            logger.warning("psycopg_pool is not installed: token checks run on worker threads")
            return None
        return cls(engine)

    async def _opened(self) -> Any:
        if self._pool is not None:
            return self._pool
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._pool is None:
                from psycopg_pool import AsyncConnectionPool

                pool = AsyncConnectionPool(
                    self._conninfo,
                    min_size=1,
                    max_size=self._max,
                    kwargs={"autocommit": True},
                    open=False,
                    name="modelhub-async-reads",
                )
                try:
                    await pool.open(wait=True, timeout=5.0)
                except BaseException:
                    await pool.close()  # else its background workers keep trying to connect
                    raise
                self._pool = pool
        return self._pool

    def _compiled(self, stmt: ClauseElement) -> tuple[ClauseElement, str, dict[str, Any]]:
        hit = self._sql.get(id(stmt))
        if hit is None:  # module-level statements: compiled once each
            compiled = stmt.compile(dialect=self._engine.dialect)
            hit = self._sql[id(stmt)] = (stmt, str(compiled), dict(compiled.params))
        return hit

    async def first(
        self, stmt: ClauseElement, params: dict[str, Any] | None = None
    ) -> tuple[Any, ...] | None:
        """The first row of ``stmt`` (a module-level constant: compiled SQL is kept by identity), or None."""
        pool = await self._opened()
        async with pool.connection(timeout=5.0) as conn:
            _stmt, sql, constants = self._compiled(stmt)
            cur = await conn.execute(sql, {**constants, **(params or {})})
            return await cur.fetchone()

    async def generation(self) -> int:
        """The database's write generation: ``db.read_generation`` awaited."""
        row = await self.first(GENERATION)
        return (row[0] if row else 0) or 0

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()
