"""Why the hub refused an operation, in its own terms; ``api/errors.py`` maps each kind to the Hub's HTTP answer
(status, JSON body, ``X-Error-Code`` / ``X-Error-Message``) in one place.

``code`` is the Hub's error code (the official client maps ``X-Error-Code`` to exception types); ``headers`` and
``extra`` carry what some answers add (``X-Repo-Commit`` for a missing entry, ``filesWithConflicts``...)."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of the refusals; the subclass says which kind (not found, forbidden, conflict...)."""

    default_code = "BadRequest"

    def __init__(
        self,
        message: str,
        code: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.headers = headers or {}
        self.extra = extra or {}


class InvalidInput(DomainError):
    """The request is malformed or breaks a rule of its own (a bad path, a bad name, a bad value)."""


class Unauthorized(DomainError):
    """A token is needed (and was not given), or the one given is not valid."""

    default_code = "Unauthorized"


class Forbidden(DomainError):
    """The caller is known but may not do this."""

    default_code = "Forbidden"


class NotFound(DomainError):
    default_code = "NotFound"


class RepoNotFound(NotFound):
    """The repo does not exist, or the caller may not see it (the two are indistinguishable on purpose)."""

    default_code = "RepoNotFound"

    def __init__(self, message: str, *, anonymous: bool) -> None:
        super().__init__(message)
        self.anonymous = anonymous


class GatedRepo(DomainError):
    """The repo is gated and the caller has no accepted access request (401 anonymous, 403 signed in); its
    metadata stays visible, its files do not. The message says how to ask for access."""

    default_code = "GatedRepo"

    def __init__(self, message: str, *, anonymous: bool) -> None:
        super().__init__(message)
        self.anonymous = anonymous


class RevisionNotFound(NotFound):
    default_code = "RevisionNotFound"


class EntryNotFound(NotFound):
    default_code = "EntryNotFound"


class Conflict(DomainError):
    """The state does not allow it (exists already, concurrent change, merge conflict)."""

    default_code = "Conflict"


class RepoExists(Conflict):
    """``create_repo`` of a repo that exists (the API answers it with the repo's URL)."""


class StaleParent(Conflict):
    """The commit named a ``parentCommit`` that is no longer the head of its branch."""

    default_code = "ParentCommitMismatch"


class TooLarge(DomainError):
    default_code = "TooLarge"


class Unavailable(DomainError):
    """A dependency (the database) is busy or gone; retrying later may work."""

    default_code = "Unavailable"


def repo_not_found(repo_id: str, anonymous: bool) -> RepoNotFound:
    msg = f"Repository {repo_id!r} not found (or it is private and your token cannot see it)."
    if anonymous:
        msg += " Pass a token if it is private."
    return RepoNotFound(msg, anonymous=anonymous)


def revision_not_found(repo_id: str, revision: str) -> RevisionNotFound:
    return RevisionNotFound(
        f"Revision {revision!r} not found in {repo_id!r}: use a branch, a tag, a commit id or refs/pr/N."
    )


def entry_not_found(repo_id: str, revision: str, path: str, commit: str | None = None) -> EntryNotFound:
    headers = {"X-Repo-Commit": commit} if commit else {}
    return EntryNotFound(
        f"Entry {path!r} not found in {repo_id!r} at revision {revision!r}.", headers=headers
    )


def bad_request(message: str, code: str = "BadRequest") -> InvalidInput:
    return InvalidInput(message, code)


def forbidden(message: str) -> Forbidden:
    return Forbidden(message)


def auth_required(what: str) -> Unauthorized:
    return Unauthorized(f"Authentication required to {what}: pass a token (Authorization: Bearer ...).")


def stale_parent(repo_id: str, ref_name: str, given: str, head: str | None) -> StaleParent:
    now = f" (it is now {head})" if head else ""
    return StaleParent(
        f"parentCommit {given} is not the head of {ref_name.removeprefix('refs/heads/')!r} in {repo_id!r}{now}:"
        " someone committed meanwhile. Fetch the new head and retry."
    )
