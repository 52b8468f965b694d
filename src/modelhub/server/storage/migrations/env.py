"""Alembic's environment for modelhub: run by ``storage.migrate`` (``modelhub admin migrate``), with the engine
handed in through ``config.attributes["connection"]``; never reads alembic.ini."""

from __future__ import annotations

from alembic import context

from modelhub.server.storage.db import Base

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite cannot ALTER most things: batch mode copies the table (a no-op on PostgreSQL)
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
