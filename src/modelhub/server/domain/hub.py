"""The hub's model: repos, revisions, commits and refs on top of the metadata database and the blob store.

Everything HTTP-free lives here so the routes stay thin. The invariants (see ``../../docs/server.md``):
- a commit is immutable, content-addressed (40-hex) and names its parents and its full tree;
- a ref moves only by compare-and-swap (``UPDATE refs SET commit=new WHERE commit=old``) inside the transaction
  that inserts the commit, so a crash or a lost race leaves the branch as it was;
- a writer that gave no ``parentCommit`` rebases and retries on a lost race; one that gave a stale one gets 412.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import random
import time
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast

from sqlalchemy import CursorResult, delete, event, func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ..._common.validation import is_commit_hash
from ..caches import MISS, Caches
from ..storage.blobs import BlobStore
from ..storage.db import Commit, Ref, Repo, Tree, read_generation, utcnow
from . import gating, metadata, objects, xetfiles
from .accounts import Principal, can_contribute, can_create_in, can_read, can_write
from .content import ContentReader
from .downloads import DownloadCounter
from .errors import (
    Conflict,
    EntryNotFound,
    RepoExists,
    Unauthorized,
    bad_request,
    forbidden,
    repo_not_found,
    revision_not_found,
    stale_parent,
)
from .trees import (
    Entry,
    FileTree,
    decode_tree,
    directories,
    encode_tree,
    git_blob_sha1,
    list_tree,
    parse_front_matter,
)

logger = logging.getLogger(__name__)

GITATTRIBUTES = (
    "*.7z filter=lfs diff=lfs merge=lfs -text\n*.bin filter=lfs diff=lfs merge=lfs -text\n"
    "*.ckpt filter=lfs diff=lfs merge=lfs -text\n*.gz filter=lfs diff=lfs merge=lfs -text\n"
    "*.h5 filter=lfs diff=lfs merge=lfs -text\n*.joblib filter=lfs diff=lfs merge=lfs -text\n"
    "*.keras filter=lfs diff=lfs merge=lfs -text\n*.msgpack filter=lfs diff=lfs merge=lfs -text\n"
    "*.npy filter=lfs diff=lfs merge=lfs -text\n*.npz filter=lfs diff=lfs merge=lfs -text\n"
    "*.onnx filter=lfs diff=lfs merge=lfs -text\n*.parquet filter=lfs diff=lfs merge=lfs -text\n"
    "*.pkl filter=lfs diff=lfs merge=lfs -text\n*.pt filter=lfs diff=lfs merge=lfs -text\n"
    "*.pth filter=lfs diff=lfs merge=lfs -text\n*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
    "*.tar filter=lfs diff=lfs merge=lfs -text\n*.zip filter=lfs diff=lfs merge=lfs -text\n"
)

# ("add", path, Entry) | ("delete", path, None) | ("delete_folder", path, None)
Op = tuple[Literal["add", "delete", "delete_folder"], str, Entry | None]


class RefMoved(Exception):
    """The ref moved between reading it and swapping it (internal: the caller retries or answers 412)."""


@dataclass
class GarbageReport:
    """What ``collect_garbage`` removed (or would remove, in a dry run)."""

    blobs: int = 0
    blob_bytes: int = 0
    partial_uploads: int = 0
    partial_bytes: int = 0
    grants: int = 0
    xet_files: int = 0
    xorbs: int = 0
    shards: int = 0


@dataclass(frozen=True)
class CommitRow:
    id: str
    repo_pk: int
    tree_id: str
    parents: tuple[str, ...]
    author: str
    title: str
    message: str
    created_at: dt.datetime


def branch_ref(name: str) -> str:
    return name if name.startswith("refs/") else f"refs/heads/{name}"


class RepoKey(Protocol):
    """What revision resolution needs of a repo: a ``Repo`` row or a ``RepoSnap``."""

    @property
    def id(self) -> int: ...

    @property
    def repo_id(self) -> str: ...


@dataclass(frozen=True)
class RepoSnap:
    """The repo fields the hot read paths (resolve, tree, repo info) need, detached from any session (safe to
    cache: ``HotCache`` drops it on every write of this process)."""

    id: int
    type: str
    namespace: str
    name: str
    private: bool
    gated: str = ""
    created_at: dt.datetime | None = None
    created_by: int | None = None
    library: str | None = None  # from the derived metadata of main (which files count as downloads)

    @property
    def repo_id(self) -> str:
        return f"{self.namespace}/{self.name}"


def _same_repo(repo_type: str, repo_id: str) -> tuple[Any, ...]:
    """WHERE clauses matching ``repo_id`` ignoring case (served by the index ``uq_repo_ci``)."""
    namespace, _, name = repo_id.partition("/")
    return (
        Repo.type == repo_type,
        func.lower(Repo.namespace) == namespace.lower(),
        func.lower(Repo.name) == name.lower(),
    )


def _library(meta_json: str | None) -> str | None:
    try:
        library = json.loads(meta_json or "{}").get("library_name")
    except ValueError:
        return None
    return library if isinstance(library, str) else None


def _refusal(principal: Principal | None, what: str, action: str) -> Exception:
    """Why a caller who may read ``what`` may not ``action`` it (401 anonymous, 403 with the reason)."""
    if principal is None:
        return Unauthorized(f"Authentication required to {action} {what!r}: pass a write token.")
    if not principal.can_write:
        return forbidden(
            f"Your token {principal.token_name!r} has the 'read' role; to {action} {what!r} you need a write token."
        )
    if principal.scopes is not None:
        return forbidden(
            f"Your fine-grained token {principal.token_name!r} is not allowed to {action} {what!r}: its scopes are"
            f" {', '.join(s.name for s in principal.scopes)}."
        )
    return forbidden(
        f"User {principal.name!r} may not {action} {what!r} (not the owner, nor a member of the organization with"
        " the write role). Open a pull request instead (create_pr=True)."
    )


class HubService:
    """Shared state of a running server (or of the admin CLI): sessions, blobs and caches."""

    def __init__(self, sessions: sessionmaker, blobs: BlobStore) -> None:
        self.sessions = sessions
        self.blobs = blobs
        self.caches = Caches()
        self.hot = self.caches.hot
        event.listen(sessions, "after_commit", self.hot.invalidate)
        self._engine = sessions.kw["bind"]
        self.trees = self.caches.trees
        self.xet: xetfiles.XetReader | None = None  # set by the app when the Xet room is wired in
        # file contents wherever they are stored (blob store or Xet): what the server itself reads of files
        self.content = ContentReader(blobs, sessions, lambda: self.xet)
        self.downloads = DownloadCounter(sessions)

    # --- repos --------------------------------------------------------------------------------------------

    @staticmethod
    def find_repo(db: Session, repo_type: str, repo_id: str) -> Repo | None:
        """The repo of that id in any casing (names are unique ignoring case; the row has the canonical one)."""
        return db.scalar(select(Repo).where(*_same_repo(repo_type, repo_id)).order_by(Repo.id).limit(1))

    def readable_repo(self, db: Session, principal: Principal | None, repo_type: str, repo_id: str) -> Repo:
        repo = self.find_repo(db, repo_type, repo_id)
        if repo is None or not can_read(principal, repo):
            raise repo_not_found(repo_id, principal is None)
        return repo

    def sync_caches(self, principal: Principal | None = None) -> None:
        """Drop the hot cache if any process wrote to the database since it was filled (caches.py). The generation
        comes with the caller's token when there is one (read in the same statement), else from one read."""
        known = None if principal is None else principal.db_generation
        self.hot.sync(read_generation(self._engine) if known is None else known)

    def repo_snapshot(
        self, repo_type: str, repo_id: str, principal: Principal | None = None
    ) -> RepoSnap | None:
        """Cached repo lookup for the hot read paths (resolve, tree, repo info); correct across processes.
        ``principal`` is only the source of the write generation (``sync_caches``), not an access check."""
        self.sync_caches(principal)
        key = ("repo", repo_type, repo_id)
        hit = self.hot.get(key)
        if hit is not MISS:
            return hit
        gen = self.hot.gen
        with self.sessions() as db:
            row = db.execute(
                select(
                    Repo.id,
                    Repo.namespace,
                    Repo.name,
                    Repo.private,
                    Repo.gated,
                    Repo.created_at,
                    Repo.created_by,
                    Repo.meta_json,
                )
                .where(*_same_repo(repo_type, repo_id))
                .order_by(Repo.id)
                .limit(1)
            ).first()
        snap = (
            RepoSnap(
                row[0],
                repo_type,
                row[1],
                row[2],
                bool(row[3]),
                row[4] or "",
                row[5],
                row[6],
                _library(row[7]),
            )
            if row
            else None
        )
        self.hot.put(key, snap, gen)
        return snap

    def readable_snapshot(self, principal: Principal | None, repo_type: str, repo_id: str) -> RepoSnap:
        snap = self.repo_snapshot(repo_type, repo_id, principal)
        if snap is None or not can_read(principal, snap):
            raise repo_not_found(repo_id, principal is None)
        return snap

    def resolve_cached(self, snap: RepoSnap, revision: str) -> str:
        key = ("rev", snap.id, revision)
        hit = self.hot.get(key)
        if hit is not MISS:
            return hit
        gen = self.hot.gen
        with self.sessions() as db:
            cid = self.resolve(db, snap, revision)
        self.hot.put(key, cid, gen)
        return cid

    def writable_repo(self, db: Session, principal: Principal | None, repo_type: str, repo_id: str) -> Repo:
        repo = self.readable_repo(db, principal, repo_type, repo_id)
        if not can_write(principal, repo):
            raise _refusal(principal, repo.repo_id, "write to")
        return repo

    def require_download(self, principal: Principal | None, repo: Repo | RepoSnap, web_url: str) -> None:
        """GatedRepo unless the caller (who may read the repo) may have its files (``gating.may_download``)."""
        if repo.gated and not gating.may_download(self.sessions, principal, repo, repo.id):
            raise gating.refusal(principal, repo.type, repo.repo_id, web_url)

    def downloadable_repo(
        self, db: Session, principal: Principal | None, repo_type: str, repo_id: str, web_url: str = ""
    ) -> Repo:
        repo = self.readable_repo(db, principal, repo_type, repo_id)
        self.require_download(principal, repo, web_url or repo.repo_id)
        return repo

    def uploadable_repo(self, db: Session, principal: Principal | None, repo_type: str, repo_id: str) -> Repo:
        """A repo the caller may send content to: a writer, or a contributor pushing to a pull request (the commit
        route then checks the ref: ``discussions.check_commit_permission``)."""
        repo = self.readable_repo(db, principal, repo_type, repo_id)
        if not can_write(principal, repo) and not can_contribute(principal, repo):
            raise _refusal(principal, repo.repo_id, "upload to")
        return repo

    @staticmethod
    def require_write(principal: Principal | None, namespace: str, what: str) -> None:
        """The caller may create repos in (or move repos into) ``namespace``."""
        if not can_create_in(principal, namespace):
            raise _refusal(principal, what, "create repos in" if "/" not in what else "write to")

    @staticmethod
    def canonical_namespace(db: Session, principal: Principal | None, namespace: str) -> str:
        """The stored spelling of the account ``namespace`` names in any casing (itself if there is none)."""
        from .accounts import find_account

        acc = find_account(db, namespace)
        return acc.name if acc is not None else namespace

    def create_repo(
        self, principal: Principal, repo_type: str, namespace: str, name: str, private: bool
    ) -> Repo:
        """Create a repo with an initial commit (``.gitattributes``) on ``main``; raises RepoExists if it exists
        (in any casing)."""
        self.require_write(principal, namespace, f"{namespace}/{name}")
        gitattributes = GITATTRIBUTES.encode()
        sha = self.blobs.put_bytes(gitattributes)
        entry = Entry(sha, len(gitattributes), False, git_blob_sha1(gitattributes))
        tree = {".gitattributes": entry}
        return self._new_repo(principal, repo_type, namespace, name, private, tree, "initial commit", {})

    def duplicate_repo(
        self, principal: Principal, src: Repo, namespace: str, name: str, private: bool
    ) -> Repo:
        """A new repo whose ``main`` is one commit holding the tree of ``src``'s ``main`` (blobs are shared, nothing
        is copied); RepoExists if the target exists in any casing."""
        self.require_write(principal, namespace, f"{namespace}/{name}")
        with self.sessions() as db:
            tree = self.commit_tree(db, self.resolve(db, src, "main"))
        title = f"Duplicate from {src.repo_id}"
        derived = {"card_json": src.card_json, "meta_json": src.meta_json}
        return self._new_repo(principal, src.type, namespace, name, private, tree, title, derived)

    def _new_repo(
        self,
        principal: Principal,
        repo_type: str,
        namespace: str,
        name: str,
        private: bool,
        tree: FileTree,
        title: str,
        derived: dict[str, Any],
    ) -> Repo:
        """Insert a repo whose ``main`` is one root commit of ``tree``; RepoExists if it exists in any casing (the
        unique index ``uq_repo_ci`` stops a racing twin)."""
        with self.sessions() as db:
            if self.find_repo(db, repo_type, f"{namespace}/{name}") is not None:
                raise RepoExists(f"{namespace}/{name}")
            try:
                repo = Repo(
                    type=repo_type,
                    namespace=namespace,
                    name=name,
                    private=private,
                    created_by=principal.user_id,
                    **derived,
                )
                db.add(repo)
                db.flush()
                tree_id, data = encode_tree(tree)
                self._ensure_tree(db, tree_id, data)
                cid = self._new_commit(db, repo.id, tree_id, (), principal.name, title, "")
                objects.record_tree(db, repo.id, tree)
                db.add(Ref(repo_pk=repo.id, name="refs/heads/main", commit_id=cid))
                db.commit()
            except IntegrityError as exc:
                db.rollback()
                raise RepoExists(f"{namespace}/{name}") from exc
            return repo

    def super_squash(self, repo: Repo, branch: str, author: str, message: str) -> str:
        """Replace the history of ``branch`` by one commit of its current tree, without parents (the Hub's
        super-squash: irreversible; earlier commits stay reachable only from other refs)."""
        ref_name = branch_ref(branch)
        for _ in range(20):
            with self.sessions() as db:
                head = self._expected_head(db, repo, ref_name, None)
                row = self.commit_row(db, head)
                assert row is not None
                cid = self._new_commit(db, repo.id, row.tree_id, (), author, message, "")
                try:
                    self.swap_ref(db, repo, ref_name, head, cid, self.tree(db, row.tree_id))
                except RefMoved:
                    continue
                db.commit()
                return cid
        raise Conflict(f"{branch!r} of {repo.repo_id!r} keeps moving; retry the squash.", "ConcurrentCommit")

    def delete_repo(self, repo_pk: int) -> None:
        with self.sessions() as db:
            repo = db.get(Repo, repo_pk)
            if repo is not None:
                db.delete(repo)
                db.commit()

    # --- commits and trees -----------------------------------------------------------------------------------

    def commit_row(self, db: Session, commit_id: str) -> CommitRow | None:
        row = self.caches.commits.get(commit_id)
        if row is not None:
            return row
        c = db.get(Commit, commit_id)
        if c is None:
            return None
        row = CommitRow(
            c.id, c.repo_pk, c.tree_id, tuple(c.parents.split()), c.author, c.title, c.message, c.created_at
        )
        self.caches.commits.put(commit_id, row)
        return row

    def tree(self, db: Session, tree_id: str) -> FileTree:
        tree = self.trees.get(tree_id)
        if tree is None:
            row = db.get(Tree, tree_id)
            if row is None:  # pragma: no cover - would mean a corrupted database
                raise RuntimeError(f"Tree {tree_id} is missing from the database.")
            tree = decode_tree(row.data)
            self.trees.put(tree_id, tree)
        return tree

    def commit_tree(self, db: Session, commit_id: str) -> FileTree:
        row = self.commit_row(db, commit_id)
        assert row is not None
        return self.tree(db, row.tree_id)

    def listing(self, db: Session, commit_id: str, path: str, recursive: bool) -> list[dict[str, Any]] | None:
        """``list_tree`` of a commit, memoized (commits are immutable) so that paging through a large listing
        does not rebuild it for every page. Callers must not mutate the entries they get."""
        key = (commit_id, path, recursive)
        hit = self.caches.listings.get(key)
        if hit is not None:
            return hit
        result = list_tree(self.commit_tree(db, commit_id), path, recursive)
        if result is not None and len(result) > 100:
            self.caches.listings.put(key, result)
        return result

    def cached_commit_tree(self, commit_id: str) -> FileTree:
        """The tree of a commit, without touching the database when both are cached (they are immutable)."""
        row = self.caches.commits.get(commit_id)
        tree = self.trees.get(row.tree_id) if row is not None else None
        if tree is not None:
            return tree
        with self.sessions() as db:
            return self.commit_tree(db, commit_id)

    def resolve(self, db: Session, repo: RepoKey, revision: str) -> str:
        """Branch, tag, ``refs/...``, full or short (>= 7 hex) commit id -> commit id; RevisionNotFound otherwise."""
        names = (
            [revision]
            if revision.startswith("refs/")
            else [f"refs/heads/{revision}", f"refs/tags/{revision}"]
        )
        for name in names:
            cid = db.scalar(select(Ref.commit_id).where(Ref.repo_pk == repo.id, Ref.name == name))
            if cid is not None:
                return cid
        if is_commit_hash(revision):
            row = self.commit_row(db, revision)
            if row is not None and row.repo_pk == repo.id:
                return revision
        elif 7 <= len(revision) < 40 and all(c in "0123456789abcdef" for c in revision):
            ids = db.scalars(
                select(Commit.id).where(Commit.repo_pk == repo.id, Commit.id.startswith(revision)).limit(2)
            ).all()
            if len(ids) == 1:
                return ids[0]
        raise revision_not_found(repo.repo_id, revision)

    @staticmethod
    def _ensure_tree(db: Session, tree_id: str, data: bytes) -> None:
        if db.get(Tree, tree_id) is None:
            db.add(Tree(id=tree_id, data=data))
            db.flush()

    def _new_commit(
        self,
        db: Session,
        repo_pk: int,
        tree_id: str,
        parents: tuple[str, ...],
        author: str,
        title: str,
        message: str,
    ) -> str:
        now = utcnow()
        body = (
            f"tree {tree_id}\n"
            + "".join(f"parent {p}\n" for p in parents)
            + f"author {author} {now.isoformat()}\nrepo {repo_pk}\n\n{title}\n\n{message}"
        )
        cid = hashlib.sha1(body.encode()).hexdigest()
        db.add(
            Commit(
                id=cid,
                repo_pk=repo_pk,
                tree_id=tree_id,
                parents=" ".join(parents),
                author=author,
                title=title,
                message=message,
                created_at=now,
            )
        )
        db.flush()
        return cid

    @staticmethod
    def apply_ops(base: FileTree, ops: list[Op], repo_id: str) -> FileTree:
        tree = dict(base)
        for kind, path, entry in ops:
            if kind == "add":
                assert entry is not None
                tree[path] = entry
            elif kind == "delete":
                if path not in tree:
                    raise EntryNotFound(f"A file with this name doesn't exist: {path!r} in {repo_id!r}.")
                del tree[path]
            else:
                prefix = path.rstrip("/") + "/"
                doomed = [p for p in tree if p.startswith(prefix)]
                if not doomed:
                    raise EntryNotFound(f"No folder {path!r} in {repo_id!r}: nothing to delete.")
                for p in doomed:
                    del tree[p]
        added = {path for kind, path, _ in ops if kind == "add"}
        folders = directories(tree) if added else set()  # once: checking each path against all is quadratic
        for path in added:
            parts = path.split("/")
            for i in range(1, len(parts)):
                if "/".join(parts[:i]) in tree:
                    raise bad_request(
                        f"Cannot add {path!r}: {'/'.join(parts[:i])!r} is a file in this commit."
                    )
            if path in folders:
                raise bad_request(f"Cannot add file {path!r}: a folder of that name exists in {repo_id!r}.")
        return tree

    def commit(
        self,
        repo: Repo,
        ref_name: str,
        ops: list[Op],
        *,
        author: str,
        title: str,
        message: str = "",
        parent_commit: str | None = None,
        extra_parent: str | None = None,
        on_commit: Any = None,
        attempts: int = 20,
    ) -> str:
        """Land one commit on ``ref_name`` atomically and return its id.

        ``on_commit(db, commit_id)`` runs inside the same transaction (PR bookkeeping); ``extra_parent`` makes a
        merge commit. Conflicts are retried on the new head unless ``parent_commit`` pins the expected head.
        """
        for attempt in range(attempts):
            try:
                with self.sessions() as db:
                    head = self._expected_head(db, repo, ref_name, parent_commit, lock=True)
                    tree = self.apply_ops(self.commit_tree(db, head), ops, repo.repo_id)
                    cid = self.land(db, repo, ref_name, head, tree, author, title, message, extra_parent)
                    if on_commit is not None:
                        on_commit(db, cid)
                    db.commit()
                    return cid
            except (RefMoved, IntegrityError, OperationalError) as exc:
                if parent_commit is not None and isinstance(exc, RefMoved):
                    raise stale_parent(repo.repo_id, ref_name, parent_commit, None) from exc
                logger.info(
                    "commit on %s %s lost a race (%s); retrying", repo.repo_id, ref_name, type(exc).__name__
                )
                time.sleep(random.uniform(0, min(0.01 * 2**attempt, 0.5)))  # jittered: no lockstep retries
        raise Conflict(
            f"Too many concurrent commits on {repo.repo_id!r} {ref_name!r}; try again.", "ConcurrentCommit"
        )

    def commit_detached(
        self,
        repo: Repo,
        base_ref: str,
        ops: list[Op],
        *,
        author: str,
        title: str,
        message: str = "",
        parent_commit: str | None = None,
        on_commit: Any = None,
    ) -> str:
        """A commit on top of ``base_ref`` that moves no existing ref (``create_pr``): ``on_commit(db, commit_id)``
        runs in the same transaction and gives it a ref of its own (``refs/pr/N``)."""
        with self.sessions() as db:
            head = self._expected_head(db, repo, base_ref, parent_commit)
            tree = self.apply_ops(self.commit_tree(db, head), ops, repo.repo_id)
            cid = self._insert_commit(db, repo, tree, (head,), author, title, message)
            if on_commit is not None:
                on_commit(db, cid)
            db.commit()
            return cid

    def _expected_head(
        self, db: Session, repo: Repo, ref_name: str, parent_commit: str | None, lock: bool = False
    ) -> str:
        """The head of ``ref_name``; RevisionNotFound without one, 412 when ``parent_commit`` is not it.

        ``lock``: hold the ref's row until the transaction ends (PostgreSQL ``FOR UPDATE``; SQLite serializes
        writers anyway), so that concurrent commits to one branch queue instead of losing the compare-and-swap and
        retrying, which under load could exhaust the retries. The swap stays a compare-and-swap."""
        query = select(Ref.commit_id).where(Ref.repo_pk == repo.id, Ref.name == ref_name)
        head = db.scalar(query.with_for_update() if lock else query)
        if head is None:
            raise revision_not_found(repo.repo_id, ref_name.removeprefix("refs/heads/"))
        if parent_commit is not None and parent_commit != head:
            raise stale_parent(repo.repo_id, ref_name, parent_commit, head)
        return head

    def _insert_commit(
        self,
        db: Session,
        repo: Repo,
        tree: FileTree,
        parents: tuple[str, ...],
        author: str,
        title: str,
        message: str,
    ) -> str:
        """Insert ``tree`` (if new) and a commit of it, and note its objects as the repo's; moves no ref."""
        tree_id, data = encode_tree(tree)
        self._ensure_tree(db, tree_id, data)
        cid = self._new_commit(db, repo.id, tree_id, parents, author, title, message)
        objects.record_tree(db, repo.id, tree, self.commit_tree(db, parents[0]))
        self.trees.put(tree_id, tree)  # content-addressed: harmless even if the transaction rolls back
        return cid

    def land(
        self,
        db: Session,
        repo: Repo,
        ref_name: str,
        head: str,
        tree: FileTree,
        author: str,
        title: str,
        message: str,
        extra_parent: str | None = None,
    ) -> str:
        """Insert ``tree`` as a new commit on ``head`` and swap ``ref_name`` from ``head`` to it, in the caller's
        transaction; raises RefMoved (after rolling back) if the ref moved meanwhile."""
        parents = (head, extra_parent) if extra_parent else (head,)
        cid = self._insert_commit(db, repo, tree, parents, author, title, message)
        self.swap_ref(db, repo, ref_name, head, cid, tree)
        return cid

    def create_ref(self, db: Session, repo: Repo, ref_name: str, commit_id: str, label: str) -> None:
        """Add a branch or tag (``refs/heads/...``, ``refs/tags/...``) at ``commit_id`` and commit; Conflict if it
        exists, also when a concurrent request created it between the check and the insert."""
        exists = Conflict(f"{label} already exists in {repo.repo_id!r}.")
        if db.get(Ref, (repo.id, ref_name)) is not None:
            raise exists
        db.add(Ref(repo_pk=repo.id, name=ref_name, commit_id=commit_id))
        try:
            db.commit()
        except IntegrityError as exc:
            db.rollback()
            raise exists from exc

    def delete_ref(self, db: Session, repo: Repo, ref_name: str, label: str) -> None:
        """Remove a branch or tag and commit; RevisionNotFound if there is none."""
        result = cast(
            "CursorResult[Any]", db.execute(delete(Ref).where(Ref.repo_pk == repo.id, Ref.name == ref_name))
        )
        if not result.rowcount:
            raise revision_not_found(repo.repo_id, label)
        db.commit()

    def swap_ref(self, db: Session, repo: Repo, ref_name: str, old: str, new: str, tree: FileTree) -> None:
        """The one compare-and-swap that moves a ref (commits and PR merges): ``ref_name`` goes from ``old`` to
        ``new`` in the caller's transaction, or RefMoved is raised (after rolling back) if it is no longer ``old``.
        ``tree`` is the new head's tree (for the repo's card and last-modified time)."""
        # Session.execute is typed Result; an UPDATE's result is a CursorResult, which has rowcount
        swapped = cast(
            "CursorResult[Any]",
            db.execute(
                update(Ref)
                .where(Ref.repo_pk == repo.id, Ref.name == ref_name, Ref.commit_id == old)
                .values(commit_id=new)
            ),
        ).rowcount
        if swapped != 1:
            db.rollback()
            raise RefMoved(ref_name)
        self.touch(db, repo, ref_name, tree)

    def touch(self, db: Session, repo: Repo, ref_name: str, tree: FileTree) -> None:
        """Update ``last_modified`` (and the cached card data when ``main`` moved) after a ref update."""
        values: dict[str, Any] = {"last_modified": utcnow()}
        if ref_name == "refs/heads/main":
            card = self._card_from_tree(tree)
            values["card_json"] = json.dumps(card, default=str)
            meta = metadata.compute(self.content, tree, None, card, repo.type)  # no weight header read here
            values["meta_json"] = json.dumps(meta.summary(), default=str)
        db.execute(update(Repo).where(Repo.id == repo.id).values(**values))

    def collect_garbage(self, min_age_s: float = 86400.0, dry_run: bool = False) -> GarbageReport:
        """Delete blobs no commit tree references (left by deleted repos, abandoned uploads, failed commits)
        if older than ``min_age_s`` so that uploads about to be committed are spared (tree rows are kept: they are
        small, and a new commit may reuse one at any time); upload grants older than that; and the partial
        uploads of server processes that are gone, whatever their age."""
        referenced: set[str] = set()
        with self.sessions() as db:
            live = select(Commit.tree_id).distinct()
            for data in db.scalars(select(Tree.data).where(Tree.id.in_(live))):
                referenced.update(e.sha256 for e in decode_tree(data).values())
            grants = 0
            if not dry_run:
                grants = objects.expire_grants(db, min_age_s)
                db.commit()
            # Xet files count as live while a tree or a grant names their SHA-256; their xorbs and shards are
            # blobs too, kept while a live file uses them
            live_shas = referenced | objects.granted_objects(db)
            xet = xetfiles.collect(db, live_shas, utcnow() - dt.timedelta(seconds=min_age_s), dry_run)

        cutoff = time.time() - min_age_s
        report = GarbageReport(grants=grants, xet_files=xet.files, xorbs=xet.xorbs, shards=xet.shards)
        referenced |= xet.kept_blobs
        for sha, mtime in list(self.blobs.iter_blobs()):
            if sha in referenced or mtime > cutoff:
                continue
            report.blobs += 1
            report.blob_bytes += self.blobs.size(sha)
            if not dry_run:
                self.blobs.delete(sha)
        if not dry_run:
            report.partial_uploads, report.partial_bytes = self.blobs.cleanup_tmp(min_age_s)
        return report

    # --- README card ---------------------------------------------------------------------------------------

    def _card_from_tree(self, tree: FileTree) -> dict[str, Any]:
        entry = tree.get("README.md")
        if entry is None or entry.size > 1_000_000:
            return {}
        cached = self.caches.cards.get(entry.sha256)
        if cached is not None:
            return cached
        try:
            with self.content.open(entry.sha256) as fh:
                text = fh.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return {}
        card = parse_front_matter(text)
        self.caches.cards.put(entry.sha256, card)
        return card

    def card_at(self, db: Session, commit_id: str) -> dict[str, Any]:
        return self._card_from_tree(self.commit_tree(db, commit_id))

    # --- history ---------------------------------------------------------------------------------------------

    def history(self, db: Session, repo: Repo, head: str) -> list[CommitRow]:
        """Commits reachable from ``head``, newest first."""
        rows = {
            c.id: CommitRow(
                c.id,
                c.repo_pk,
                c.tree_id,
                tuple(c.parents.split()),
                c.author,
                c.title,
                c.message,
                c.created_at,
            )
            for c in db.scalars(select(Commit).where(Commit.repo_pk == repo.id))
        }
        seen: set[str] = set()
        stack = [head]
        while stack:
            cid = stack.pop()
            if cid in seen or cid not in rows:
                continue
            seen.add(cid)
            stack.extend(rows[cid].parents)
        return sorted((rows[c] for c in seen), key=lambda r: (r.created_at, r.id), reverse=True)

    def ancestors(self, db: Session, repo: Repo, head: str) -> list[str]:
        """Ancestors of ``head`` (itself included) in breadth-first order."""
        order: list[str] = []
        seen: set[str] = set()
        queue = [head]
        while queue:
            cid = queue.pop(0)
            if cid in seen:
                continue
            seen.add(cid)
            order.append(cid)
            row = self.commit_row(db, cid)
            if row is not None:
                queue.extend(row.parents)
        return order
