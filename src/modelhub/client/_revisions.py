"""In-process memory of branch/tag -> commit resolutions: ``revision_scope()`` and ``forget_resolved_revisions``.

Two layers: an explicit scope (``revision_scope()``: inside it a branch is resolved at most once, whatever the
time) and a short time-to-live memory (``MODELHUB_REVISION_CACHE_TTL`` seconds, default 0: off) for callers that
make a sequence of calls without a scope. Downloads read and fill it; every write the client makes to a repo
(commits, ref changes, merges, deletion) calls :func:`forget_resolved_revisions` for that repo.

This module sits at the bottom of the client's layering (it imports no other client module), so that both the
download side and the write side can use it without importing each other.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

from .._common.validation import is_commit_hash

_resolved: dict[tuple[str, ...], tuple[str, float]] = {}
_resolved_lock = threading.Lock()
_scope: contextvars.ContextVar[dict[tuple[str, ...], str] | None] = contextvars.ContextVar(
    "modelhub_revision_scope", default=None
)


def _ttl() -> float:
    return float(os.environ.get("MODELHUB_REVISION_CACHE_TTL", "0"))


@contextlib.contextmanager
def revision_scope() -> Iterator[None]:
    """Within this block each branch or tag is resolved to a commit at most once (then every file is read at that
    commit): a loader wrapping its sequence of downloads in it sees one consistent commit and costs one request on
    a warm cache. Scopes nest (the outermost one is used)."""
    if _scope.get() is not None:
        yield
        return
    token = _scope.set({})
    try:
        yield
    finally:
        _scope.reset(token)


def resolved_key(
    endpoint: str, repo_type: str, repo_id: str, revision: str, auth: str | None
) -> tuple[str, ...]:
    """The memory's key for ``revision`` of a repo as seen with the ``Authorization`` value ``auth``."""
    fingerprint = hashlib.sha256(auth.encode()).hexdigest()[:16] if auth else ""
    return (endpoint, repo_type, repo_id, revision, fingerprint)


def resolved_get(key: tuple[str, ...]) -> str | None:
    """The commit remembered for ``key`` (in the current scope, else within the TTL), or None."""
    scoped = _scope.get()
    if scoped is not None and key in scoped:
        return scoped[key]
    ttl = _ttl()
    if ttl <= 0:
        return None
    with _resolved_lock:
        item = _resolved.get(key)
    if item and time.monotonic() - item[1] < ttl:
        return item[0]
    return None


def resolved_put(key: tuple[str, ...], commit: str) -> None:
    """Remember that ``key``'s revision resolved to ``commit`` (a commit hash revision needs no memory)."""
    if is_commit_hash(key[3]):
        return
    scoped = _scope.get()
    if scoped is not None:
        scoped[key] = commit
    if _ttl() > 0:
        with _resolved_lock:
            _resolved[key] = (commit, time.monotonic())


def forget_resolved_revisions(repo_id: str | None = None, repo_type: str | None = None) -> None:
    """Forget remembered branch/tag resolutions (of one repo, or all): called after our own writes."""
    stores: list[dict[tuple[str, ...], Any]] = [_resolved]
    scoped = _scope.get()
    if scoped is not None:
        stores.append(scoped)
    with _resolved_lock:
        for store in stores:
            for key in list(store):
                if repo_id is None or (key[2] == repo_id and key[1] == (repo_type or "model")):
                    del store[key]


class ResolvedRevision(str):
    """A revision already resolved to a commit (``HubApi.resolve_revision``), upstream's name and behaviour.

    Its string value is the revision asked for (``"main"`` when none was), which keeps URLs and messages readable;
    ``resolved`` is the commit. Passed as ``revision=`` to ``hub_download`` / ``snapshot_download`` (and so to
    every ``from_pretrained``), the download is pinned to that commit and needs no request on a warm cache.
    """

    initial: str | None
    resolved: str
    _repo_id: str | None
    _repo_type: str

    def __new__(
        cls,
        resolved: str,
        initial: str | None = None,
        repo_id: str | None = None,
        repo_type: str | None = None,
    ) -> ResolvedRevision:
        if not is_commit_hash(resolved):
            raise ValueError(f"ResolvedRevision needs a 40-hex commit id, not {resolved!r}.")
        self = super().__new__(cls, initial if initial is not None else "main")
        self.initial = initial
        self.resolved = resolved
        self._repo_id = repo_id  # None: built by hand, taken to fit any repo
        self._repo_type = repo_type or "model"
        return self

    def fits(self, repo_id: str, repo_type: str) -> bool:
        """Whether this commit belongs to that repo (a hand-built instance fits any)."""
        return self._repo_id is None or (self._repo_id, self._repo_type) == (repo_id, repo_type)

    def __reduce__(self) -> tuple[Any, ...]:  # pickle and copy keep the commit, not only the string
        return type(self), (self.resolved, self.initial, self._repo_id, self._repo_type)

    def __repr__(self) -> str:
        return f"ResolvedRevision(initial={self.initial!r}, resolved={self.resolved!r})"


def commit_of(revision: str | None, repo_id: str, repo_type: str) -> str | None:
    """The revision a download of that repo uses: a ResolvedRevision's commit (the revision it was asked for when
    it was resolved for another repo), else the revision itself."""
    if not isinstance(revision, ResolvedRevision):
        return revision
    return revision.resolved if revision.fits(repo_id, repo_type) else str.__str__(revision)
