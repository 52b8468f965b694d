"""The schema of modelhub before migrations existed (commit 0cf9d4d), exactly.

A database created by that version (or an earlier one) has no ``alembic_version`` table: ``storage.migrate.upgrade``
adds the nullable columns earlier versions lacked, then runs this revision, which creates only the tables that are
missing (those versions created missing tables at start-up), with this revision's definitions.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())

    def create_table(name: str, *items: Any) -> None:
        if name not in existing:
            op.create_table(name, *items)

    create_table(
        "accounts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=96), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("fullname", sa.String(length=200), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    create_table(
        "blob_meta",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("git_sha1", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("sha256"),
    )
    create_table(
        "repos",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("namespace", sa.String(length=96), nullable=False),
        sa.Column("name", sa.String(length=96), nullable=False),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("gated", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_modified", sa.DateTime(), nullable=False),
        sa.Column("next_num", sa.Integer(), nullable=False),
        sa.Column("card_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("type", "namespace", "name", name="uq_repo"),
    )
    create_table(
        "settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    create_table(
        "trees",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    create_table(
        "commits",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("repo_pk", sa.Integer(), nullable=False),
        sa.Column("tree_id", sa.String(length=40), nullable=False),
        sa.Column("parents", sa.String(length=200), nullable=False),
        sa.Column("author", sa.String(length=96), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["repo_pk"], ["repos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    if "commits" not in existing:
        op.create_index("ix_commits_repo_pk", "commits", ["repo_pk"], unique=False)

    create_table(
        "discussions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("repo_pk", sa.Integer(), nullable=False),
        sa.Column("num", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=96), nullable=False),
        sa.Column("is_pr", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("target_ref", sa.String(length=300), nullable=False),
        sa.Column("merge_commit", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["repo_pk"], ["repos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("repo_pk", "num", name="uq_discussion"),
    )
    create_table(
        "memberships",
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("org_id", "user_id"),
    )
    create_table(
        "refs",
        sa.Column("repo_pk", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("commit_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["repo_pk"], ["repos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("repo_pk", "name"),
    )
    create_table(
        "repo_objects",
        sa.Column("repo_pk", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["repo_pk"], ["repos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("repo_pk", "sha256"),
    )
    if "repo_objects" not in existing:
        op.create_index("ix_repo_objects_sha256", "repo_objects", ["sha256"], unique=False)

    create_table(
        "tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    create_table(
        "upload_grants",
        sa.Column("repo_pk", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["repo_pk"], ["repos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("repo_pk", "sha256"),
    )
    create_table(
        "discussion_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("discussion_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("author", sa.String(length=96), nullable=False),
        sa.Column("data_json", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["discussion_id"], ["discussions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("discussion_events")
    op.drop_table("upload_grants")
    op.drop_table("tokens")
    with op.batch_alter_table("repo_objects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_repo_objects_sha256"))

    op.drop_table("repo_objects")
    op.drop_table("refs")
    op.drop_table("memberships")
    op.drop_table("discussions")
    with op.batch_alter_table("commits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_commits_repo_pk"))

    op.drop_table("commits")
    op.drop_table("trees")
    op.drop_table("settings")
    op.drop_table("repos")
    op.drop_table("blob_meta")
    op.drop_table("accounts")
