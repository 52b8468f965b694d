"""Schema versions with Alembic: create a new hub at the newest revision, tell how far a database is behind, and
upgrade it (``modelhub admin migrate``). Servers never migrate: ``check_current`` refuses a database that is behind.

The revisions live in ``storage/migrations/versions`` (one file each, a single linear chain; docs/architecture.md,
"How to add a migration"). Revision 0001 is the schema of the last version without migrations: such a database
(tables, no ``alembic_version``) counts as 0001.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import insert, inspect, text
from sqlalchemy.engine import Connection, Engine

from .db import Base, HubState, add_missing_columns

MIGRATIONS = Path(__file__).with_name("migrations")
logging.getLogger("alembic").setLevel(logging.WARNING)  # its per-step INFO lines; we report the outcome
BASELINE = "0001"
# the nullable columns that versions before 0001 added at start-up (the rest of 0001's columns were always there)
BASELINE_LATE_COLUMNS = {
    "tokens": ("expires_at", "last_used_at"),
    "blob_meta": ("git_sha1",),
    "discussions": ("merge_commit",),
}


class SchemaError(RuntimeError):
    """The database is not at the revision this version of modelhub needs; the message says what to run."""


@dataclass(frozen=True)
class SchemaState:
    current: str | None  # None: no hub in this database (no tables of ours)
    head: str

    @property
    def empty(self) -> bool:
        return self.current is None

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def _config(conn: Connection | None = None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


def head() -> str:
    from alembic.script import ScriptDirectory

    rev = ScriptDirectory.from_config(_config()).get_current_head()
    assert rev is not None
    return rev


def _known(rev: str) -> bool:
    from alembic.script import ScriptDirectory

    try:
        return ScriptDirectory.from_config(_config()).get_revision(rev) is not None
    except Exception:
        return False


def state(engine: Engine) -> SchemaState:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        if "alembic_version" in tables:
            current = MigrationContext.configure(conn).get_current_revision()
        elif tables & set(Base.metadata.tables):
            current = BASELINE  # created before migrations existed
        else:
            current = None
    return SchemaState(current, head())


def _serialized(conn: Connection) -> None:
    """Only one process creates or upgrades at a time (PostgreSQL: a transaction-scoped advisory lock; SQLite
    serializes writers by itself)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(7316802714)"))


def create_hub(engine: Engine) -> bool:
    """Create the tables of an empty database at the newest revision; False if a hub was already there."""
    from alembic import command

    with engine.begin() as conn:
        _serialized(conn)
        if _has_hub(conn):
            return False
        Base.metadata.create_all(conn)
        conn.execute(insert(HubState).values(id=1, generation=0))
        command.stamp(_config(conn), "head")
    return True


def _has_hub(conn: Connection) -> bool:
    return bool(set(inspect(conn).get_table_names()) & (set(Base.metadata.tables) | {"alembic_version"}))


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Apply the missing revisions; (revision before, revision after)."""
    from alembic import command

    before = state(engine)
    if before.empty:
        raise SchemaError(
            "This database holds no hub: nothing to migrate (`modelhub admin init` creates one)."
        )
    if not _known(before.current or ""):
        raise SchemaError(_ahead(before))
    if before.up_to_date:
        return before.current, before.head
    if before.current == BASELINE and "alembic_version" not in inspect(engine).get_table_names():
        # no version yet (0cf9d4d or older): the nullable columns those versions added at start-up; revision 0001
        # then creates only the tables that are missing
        add_missing_columns(engine, BASELINE_LATE_COLUMNS)
    with engine.begin() as conn:
        _serialized(conn)
        command.upgrade(_config(conn), "head")
    return before.current, state(engine).current or ""


def _ahead(s: SchemaState) -> str:
    return (
        f"The database is at schema revision {s.current}, which this version of modelhub does not know (its newest"
        f" is {s.head}): it was migrated by a newer modelhub. Run that version (or restore a backup)."
    )


def check_current(engine: Engine, how_to_migrate: str) -> None:
    """Raise ``SchemaError`` unless the database is at the newest revision (a server never migrates silently)."""
    s = state(engine)
    if s.up_to_date:
        return
    if s.empty:
        raise SchemaError("The database holds no hub yet.")
    if not _known(s.current or ""):
        raise SchemaError(_ahead(s))
    raise SchemaError(
        f"The database is at schema revision {s.current}; this version of modelhub needs {s.head}. Stop every"
        f" server of this hub, back the database up (docs/server.md, docs/deploy.md), then run: {how_to_migrate}"
    )
