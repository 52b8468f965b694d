"""The resolve fast path's token check awaited on the event loop (server/storage/async_reads.py), on the real
PostgreSQL: it must answer exactly what the worker-thread path answers, for every kind of token. (Through HTTP, the
hot-path tests of tests/server/test_tokens.py and test_scale.py run it on the PostgreSQL + S3 backend.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from .._hub import HubServer
from .._services import new_database


def test_async_reads_answer_what_the_synchronous_reads_answer(tmp_path: Path) -> None:
    from sqlalchemy.orm import sessionmaker

    from modelhub.server.domain.accounts import _TOKEN_LOOKUP, AccountDisabled, TokenCache, hash_token
    from modelhub.server.storage.async_reads import AsyncReads
    from modelhub.server.storage.db import GENERATION, make_engine, single_read

    url = new_database()
    hub = HubServer(tmp_path / "data", extra_args=("--database-url", url))
    hub.admin("init")
    hub.create_user("ada")
    hub.create_user("bob")
    plain = hub.create_token("ada", "read")
    expiring = hub.admin("token", "create", "ada", "--name", "exp", "--expires-in", "12h")
    scoped = hub.admin("token", "create", "ada", "--name", "fine", "--role", "write", "--scope", "ada/x")
    bobs = hub.create_token("bob", "write")
    hub.admin("user", "disable", "bob")

    engine = make_engine(url)
    sessions = sessionmaker(engine)
    reads = AsyncReads.for_engine(engine)
    assert reads is not None
    tokens = TokenCache(sessions)

    def sync_row(token: str) -> tuple | None:
        with single_read(engine) as conn:
            row = conn.execute(_TOKEN_LOOKUP, {"token_hash": hash_token(token)}).first()
        return None if row is None else tuple(row)

    async def compare() -> None:
        try:
            for token in (plain, expiring, scoped, "hf_unknown"):
                row = await reads.first(_TOKEN_LOOKUP, {"token_hash": hash_token(token)})
                want = sync_row(token)
                assert row == want
                if want is not None:
                    assert [type(v) for v in row] == [type(v) for v in want]  # same decoded types
                a, b = tokens.lookup(token), await tokens.lookup_on_loop(token, reads)
                assert a == b
                if a is not None and b is not None:
                    assert (a.db_generation, a.token_hash, a.token_id) == (
                        b.db_generation,
                        b.token_hash,
                        b.token_id,
                    )
            assert (await tokens.lookup_on_loop(scoped, reads)).scopes is not None  # type: ignore[union-attr]
            with pytest.raises(AccountDisabled):
                await tokens.lookup_on_loop(bobs, reads)
            with single_read(engine) as conn:
                generation = conn.execute(GENERATION).scalar_one()
            assert await reads.first(GENERATION) == (generation,)
            assert await reads.generation() == generation
        finally:
            await reads.close()

    asyncio.run(compare())
    engine.dispose()


def test_sqlite_has_no_async_reads(tmp_path: Path) -> None:
    from modelhub.server.storage.async_reads import AsyncReads
    from modelhub.server.storage.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert AsyncReads.for_engine(engine) is None  # the worker-thread path serves SQLite


def test_an_unreachable_database_pauses_the_async_reads(tmp_path: Path) -> None:
    """A read that fails (here: nothing listens on the port) pauses the asyncio path, so that requests take the
    worker-thread path at once (which answers 503) instead of each waiting for the pool's timeout."""
    from sqlalchemy import create_engine

    from modelhub.server.storage.async_reads import AsyncReads
    from modelhub.server.storage.db import GENERATION

    from .._hub import free_port

    engine = create_engine(f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/nothing")
    reads = AsyncReads.for_engine(engine)
    assert reads is not None and reads.available

    async def read() -> None:
        try:
            await reads.first(GENERATION)
        finally:
            await reads.close()

    with pytest.raises(Exception) as caught:
        asyncio.run(read())
    reads.failed(caught.value)
    assert not reads.available
