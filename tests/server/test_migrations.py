"""Schema migrations (Alembic): a database made by the last version without migrations (the checked-in fixture,
created by modelhub at commit 0cf9d4d with users, an org, tokens, repos, LFS objects, branches, a tag and a PR) is
refused by ``serve`` until ``modelhub admin migrate`` upgrades it with its data intact; and the migrated schema is
exactly the SQLAlchemy metadata, so a table or column added to ``storage/db.py`` without a migration fails here."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from modelhub.server.storage import migrate
from modelhub.server.storage.db import Base

from .._hub import HubServer

FIXTURE = Path(__file__).with_name("fixtures") / "hub_0cf9d4d.sqlite3"


def _differences(url: str) -> list:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = create_engine(url)
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)


TABLES = ["accounts", "memberships", "tokens", "repos", "refs", "commits", "trees", "repo_objects"]
TABLES += ["discussions", "discussion_events", "upload_grants", "settings"]


def _columns(db: Path) -> dict[str, list[str]]:
    with sqlite3.connect(db) as conn:
        return {t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})")] for t in TABLES}


def _rows(db: Path, columns: dict[str, list[str]]) -> dict[str, list[tuple]]:
    """Every row of the fixture's tables, in the fixture's columns (later migrations add columns)."""
    with sqlite3.connect(db) as conn:
        return {
            t: sorted(conn.execute(f"SELECT {', '.join(cols)} FROM {t}").fetchall(), key=repr)
            for t, cols in columns.items()
        }


def _indexes(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}


def test_fixture_upgrades_with_data_intact(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db = data / "modelhub.sqlite3"
    shutil.copy(FIXTURE, db)
    columns = _columns(db)
    before = _rows(db, columns)
    server = HubServer(data, backend="sqlite")
    with pytest.raises(RuntimeError, match=r"revision 0001.*modelhub admin migrate --data-dir"):
        server.start()
    assert _rows(db, columns) == before  # refused, untouched
    out = server.admin("migrate")
    assert out == ""
    assert migrate.state(create_engine(f"sqlite:///{db}")).up_to_date
    after = _rows(db, columns)
    assert after == before  # every row of every table kept
    assert _differences(f"sqlite:///{db}") == []
    assert "uq_repo_ci" in _indexes(db)  # expression index: compare_metadata cannot see it on SQLite
    server.admin("migrate")  # up to date: a no-op
    server.start()
    try:
        token = server.create_token("alice", "read")
        with server_http(server, token) as c:
            files = c.get("/api/models/alice/fixture-model/tree/main").json()
            assert {f["path"] for f in files} == {".gitattributes", "README.md", "hello.txt", "weights.bin"}
            assert next(f for f in files if f["path"] == "weights.bin")["lfs"]["size"] == 11 * 2**20
            refs = c.get("/api/models/alice/fixture-model/refs").json()
            assert {b["name"] for b in refs["branches"]} == {"main", "dev"}
            assert [t["name"] for t in refs["tags"]] == ["v1"]
            assert c.get("/api/models/alice/fixture-model/discussions").json()["discussions"][0][
                "isPullRequest"
            ]
            assert c.get("/api/datasets/acme/private-data").status_code == 200  # alice is in acme
            assert len(c.get("/api/models/alice/fixture-model/commits/main").json()) == 4
        with server_http(server, None) as c:
            assert c.get("/api/datasets/acme/private-data").status_code == 401  # still private
        assert "alice" in server.admin("user", "list")
    finally:
        server.stop()


def server_http(server: HubServer, token: str | None):
    import httpx

    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=30)


def test_fresh_database_is_the_metadata_and_at_head(tmp_path: Path) -> None:
    """A new hub (create + stamp) and one built by running every migration from nothing are both the metadata."""
    from alembic import command

    fresh = create_engine(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    assert migrate.create_hub(fresh) and not migrate.create_hub(fresh)
    assert migrate.state(fresh).up_to_date
    assert _differences(str(fresh.url)) == []

    chain = create_engine(f"sqlite:///{tmp_path / 'chain.sqlite3'}")
    with chain.begin() as conn:
        command.upgrade(migrate._config(conn), "head")
    assert _differences(str(chain.url)) == []
    assert "uq_repo_ci" in _indexes(tmp_path / "chain.sqlite3")


def test_repos_differing_only_by_case_stop_the_upgrade_with_their_names(tmp_path: Path) -> None:
    """Revision 0003 makes repo names unique ignoring case: a database holding ``Foo`` and ``foo`` is refused,
    naming them, and left as it was."""
    db = tmp_path / "modelhub.sqlite3"
    shutil.copy(FIXTURE, db)
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO repos (type, namespace, name, private, gated, created_at, last_modified, next_num,"
            " card_json) SELECT type, namespace, upper(name), private, gated, created_at, last_modified,"
            " next_num, card_json FROM repos WHERE name = 'fixture-model'"
        )
    columns = _columns(db)
    before = _rows(db, columns)
    engine = create_engine(f"sqlite:///{db}")
    with pytest.raises(RuntimeError, match=r"differ only by case: model alice/fixture-model \(2 spellings\)"):
        migrate.upgrade(engine)
    engine.dispose()
    assert _rows(db, columns) == before
    assert "uq_repo_ci" not in _indexes(db)


def test_unknown_newer_revision_is_refused(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    migrate.create_hub(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(migrate.SchemaError, match="newer modelhub"):
        migrate.check_current(engine, "modelhub admin migrate")
    with pytest.raises(migrate.SchemaError, match="newer modelhub"):
        migrate.upgrade(engine)
