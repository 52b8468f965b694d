"""Which content objects belong to which repo, and who may use an object without sending its bytes.

Blobs are stored once for the whole server (content-addressed), so storage alone says nothing about ownership.
The rules (docs/security.md):

- an object is readable *through a repo* only if some commit of that repo references it (``repo_objects``);
  knowing a SHA-256 is not enough, and no answer tells whether a hash exists anywhere else;
- a commit (or an LFS upload negotiation) may reference an object without uploading it only if the committer
  proves it has the bytes: the object is already referenced by a repo the committer can read, or a writer of the
  target repo uploaded it (verified) through that repo (``upload_grants``).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, cast

from sqlalchemy import CursorResult, and_, delete, func, or_, select, true
from sqlalchemy.orm import Session, sessionmaker

from ..storage.db import AccessRequest, Commit, Repo, RepoObject, Setting, Tree, UploadGrant, utcnow
from .accounts import Principal, Scope
from .trees import FileTree, decode_tree

logger = logging.getLogger(__name__)

_BATCH = 500
BACKFILL_KEY = "repo_objects_backfilled"


def insert_ignore(db: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """INSERT rows, skipping those whose primary key exists (SQLite and PostgreSQL: ON CONFLICT DO NOTHING)."""
    if not rows:
        return
    if db.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        for i in range(0, len(rows), _BATCH):
            db.execute(pg_insert(model).values(rows[i : i + _BATCH]).on_conflict_do_nothing())
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        for i in range(0, len(rows), _BATCH):
            db.execute(sqlite_insert(model).values(rows[i : i + _BATCH]).on_conflict_do_nothing())


def record_tree(db: Session, repo_pk: int, tree: FileTree, base: FileTree | None = None) -> None:
    """Note that ``repo_pk`` references every object of ``tree`` (those already in ``base``, the parent's tree,
    were noted when the parent landed)."""
    shas = {e.sha256 for e in tree.values()}
    if base:
        shas -= {e.sha256 for e in base.values()}
    insert_ignore(db, RepoObject, [{"repo_pk": repo_pk, "sha256": s} for s in sorted(shas)])


def in_repo(db: Session, repo_pk: int, sha256: str) -> bool:
    """Whether some commit of the repo references the object (the caller already may read the repo)."""
    return db.get(RepoObject, (repo_pk, sha256)) is not None


def readable_clause(principal: Principal | None) -> Any:
    """SQL condition on ``Repo`` for the repos ``principal`` may read."""
    if principal is None:
        return Repo.private.is_(False)
    member: Any = (
        true()
        if principal.is_admin
        else func.lower(Repo.namespace).in_([principal.name.lower(), *principal.orgs])
    )
    if principal.scopes is not None:  # a fine-grained token sees private repos inside its scopes only
        member = and_(member, or_(*(_scope_clause(s) for s in principal.scopes)))
    return or_(Repo.private.is_(False), member)


def _scope_clause(scope: Scope) -> Any:
    if scope.kind == "namespace":
        return func.lower(Repo.namespace) == scope.name.lower()
    namespace, _, name = scope.name.lower().partition("/")
    return and_(
        Repo.type == scope.repo_type, func.lower(Repo.namespace) == namespace, func.lower(Repo.name) == name
    )


def downloadable_clause(principal: Principal | None) -> Any:
    """SQL condition on ``Repo`` for the repos whose files ``principal`` may have: readable, and not gated or the
    caller writes it (owner, org write/admin, contributor of its own repos) or was accepted. Stricter than
    ``gating.may_download`` for fine-grained tokens (only ungated or accepted), never looser."""
    readable = readable_clause(principal)
    ungated = or_(Repo.gated == "", Repo.gated.is_(None))
    if principal is None:
        return and_(readable, ungated)
    accepted = select(AccessRequest.repo_pk).where(
        AccessRequest.user_id == principal.user_id, AccessRequest.status == "accepted"
    )
    allowed = [ungated, Repo.id.in_(accepted)]
    if principal.can_write and principal.scopes is None:
        if principal.is_admin:
            return readable
        roles = principal.org_roles
        writes = [principal.name.lower(), *(o for o, r in roles.items() if r in ("write", "admin"))]
        allowed.append(func.lower(Repo.namespace).in_(writes))
        own = [o for o, r in roles.items() if r == "contributor"]
        if own:
            allowed.append(and_(func.lower(Repo.namespace).in_(own), Repo.created_by == principal.user_id))
    return and_(readable, or_(*allowed))


def provable(db: Session, principal: Principal | None, repo_pk: int, sha256: str) -> bool:
    """Whether ``principal`` may reference the object in a commit to ``repo_pk`` without uploading it: the files
    of a gated repo prove nothing to those who may not download them (else naming a gated file's hash in one's own
    repo would hand out its bytes)."""
    if in_repo(db, repo_pk, sha256) or db.get(UploadGrant, (repo_pk, sha256)) is not None:
        return True
    elsewhere = (
        select(RepoObject.repo_pk)
        .join(Repo, Repo.id == RepoObject.repo_pk)
        .where(RepoObject.sha256 == sha256, downloadable_clause(principal))
        .limit(1)
    )
    return db.scalar(elsewhere) is not None


def grant(db: Session, repo_pk: int, sha256: str) -> None:
    """A writer of ``repo_pk`` uploaded the object's bytes (verified): it may now be committed there."""
    insert_ignore(db, UploadGrant, [{"repo_pk": repo_pk, "sha256": sha256, "created_at": utcnow()}])


def expire_grants(db: Session, older_than_s: float) -> int:
    """Drop grants older than ``older_than_s`` (garbage collection); returns how many went."""
    cutoff = utcnow() - dt.timedelta(seconds=older_than_s)
    # Session.execute is typed Result; a DELETE's result is a CursorResult, which has rowcount
    result = cast("CursorResult[Any]", db.execute(delete(UploadGrant).where(UploadGrant.created_at < cutoff)))
    return result.rowcount or 0


def granted_objects(db: Session) -> set[str]:
    return set(db.scalars(select(UploadGrant.sha256).distinct()))


def backfill(sessions: sessionmaker) -> int:
    """Fill ``repo_objects`` from every commit's tree, once, for a database made before the table existed."""
    with sessions() as db:
        if db.get(Setting, BACKFILL_KEY) is not None:
            return 0
        pairs = db.execute(select(Commit.repo_pk, Commit.tree_id).distinct()).all()
        by_repo: dict[int, set[str]] = {}
        for repo_pk, tree_id in pairs:
            data = db.scalar(select(Tree.data).where(Tree.id == tree_id))
            if data is not None:
                by_repo.setdefault(repo_pk, set()).update(e.sha256 for e in decode_tree(data).values())
        for repo_pk, shas in by_repo.items():
            insert_ignore(db, RepoObject, [{"repo_pk": repo_pk, "sha256": s} for s in sorted(shas)])
        insert_ignore(db, Setting, [{"key": BACKFILL_KEY, "value": "1"}])
        db.commit()
        n = sum(len(s) for s in by_repo.values())
    if n:
        logger.info("noted %d repo objects of %d repos (first start after an upgrade)", n, len(by_repo))
    return n
