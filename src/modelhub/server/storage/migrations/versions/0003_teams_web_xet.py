"""Teams, web pages and Xet: access requests, likes, download counts, login sessions, the Xet CAS index; accounts
gain a password hash and a disabled flag, repos their creator and derived metadata, tokens their scopes; repo names
become unique ignoring case.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _check_case_duplicates() -> None:
    """Refuse (before changing anything: the upgrade runs in one transaction) a database holding two repos whose
    names differ only by case, naming them: the unique index cannot hold until one is renamed or deleted."""
    rows = op.get_bind().execute(
        sa.text(
            "SELECT type, lower(namespace) AS ns, lower(name) AS n, count(*) FROM repos"
            " GROUP BY type, lower(namespace), lower(name) HAVING count(*) > 1"
        )
    )
    clashes = [f"{t} {ns}/{n} ({c} spellings)" for t, ns, n, c in rows]
    if clashes:
        raise RuntimeError(
            "Repo names are now unique ignoring case, and these repos differ only by case: "
            + ", ".join(clashes)
            + ". Rename or delete all but one of each with the previous modelhub version, then migrate again."
        )


def upgrade() -> None:
    _check_case_duplicates()
    # --- the Xet CAS (server/xet/store.py) ---
    op.create_table(
        "xet_xorbs",
        sa.Column("hash", sa.String(64), primary_key=True),
        sa.Column("blob_sha256", sa.String(64), nullable=False, index=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("num_chunks", sa.Integer(), nullable=False),
        sa.Column("chunk_index", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "xet_files",
        sa.Column("hash", sa.String(64), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False, index=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("terms", sa.LargeBinary(), nullable=False),
        sa.Column("shard_sha256", sa.String(64), nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "xet_file_xorbs",
        sa.Column("file_hash", sa.String(64), primary_key=True),
        sa.Column("xorb_hash", sa.String(64), primary_key=True, index=True),
    )
    op.create_table(
        "xet_dedup_chunks",
        sa.Column("chunk_hash", sa.String(64), primary_key=True),
        sa.Column("xorb_hash", sa.String(64), primary_key=True),
    )
    op.create_table(
        "xet_shards",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("repo_pk", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    # --- teams (domain/gating.py, community.py, downloads.py) ---
    op.create_table(
        "access_requests",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("repo_pk", sa.Integer(), sa.ForeignKey("repos.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("fields_json", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("repo_pk", "user_id", name="uq_access_request"),
    )
    op.create_table(
        "likes",
        sa.Column(
            "user_id", sa.Integer(), sa.ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column(
            "repo_pk",
            sa.Integer(),
            sa.ForeignKey("repos.id", ondelete="CASCADE"),
            primary_key=True,
            index=True,
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "repo_downloads",
        sa.Column("repo_pk", sa.Integer(), sa.ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("count", sa.BigInteger(), nullable=False),
    )
    # --- web sign-in (domain/logins.py) ---
    op.create_table(
        "login_sessions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
    )
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("password_hash", sa.String(200), nullable=True))
        batch.add_column(sa.Column("disabled", sa.Boolean(), nullable=True))
    with op.batch_alter_table("repos") as batch:
        batch.add_column(sa.Column("created_by", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("meta_json", sa.Text(), nullable=True))
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("scopes_json", sa.Text(), nullable=True))
    # expression index: autogenerate cannot see it on SQLite, so test_migrations checks it by name
    op.create_index(
        "uq_repo_ci", "repos", ["type", sa.text("lower(namespace)"), sa.text("lower(name)")], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_repo_ci", table_name="repos")
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("scopes_json")
    with op.batch_alter_table("repos") as batch:
        batch.drop_column("meta_json")
        batch.drop_column("created_by")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("disabled")
        batch.drop_column("password_hash")
    for table in ("login_sessions", "repo_downloads", "likes", "access_requests"):
        op.drop_table(table)
    for table in ("xet_shards", "xet_dedup_chunks", "xet_file_xorbs", "xet_files", "xet_xorbs"):
        op.drop_table(table)
