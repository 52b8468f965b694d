"""Rules for repo ids, repo types, revisions and paths in a repo, shared by the client and the server."""

from __future__ import annotations

import re

from ..constants import REPO_TYPES
from ..errors import HFValidationError

_PART = re.compile(r"^[A-Za-z0-9_.\-]{1,96}$")
MAX_PATH_LENGTH = 1024
MAX_REVISION_LENGTH = 256


def _check_part(part: str, repo_id: str) -> None:
    if not _PART.match(part):
        raise HFValidationError(
            f"Invalid repo id {repo_id!r}: each part must be 1-96 characters among letters, digits, '_', '-' and '.'."
        )
    if part[0] in "-." or part[-1] in "-.":
        raise HFValidationError(f"Invalid repo id {repo_id!r}: a part may not start or end with '-' or '.'.")
    if "--" in part or ".." in part:
        raise HFValidationError(f"Invalid repo id {repo_id!r}: '--' and '..' are not allowed.")


def validate_repo_id(repo_id: object, *, allow_bare_name: bool = False) -> str:
    """Return ``repo_id`` if it is ``namespace/name`` (or ``name`` when allowed), else raise HFValidationError."""
    if not isinstance(repo_id, str):
        raise HFValidationError(
            f"Repo id must be a string like 'alice/my-model', not {type(repo_id).__name__}."
        )
    parts = repo_id.split("/")
    if len(parts) > 2 or (len(parts) == 1 and not allow_bare_name):
        raise HFValidationError(
            f"Invalid repo id {repo_id!r}: expected 'namespace/name', e.g. 'alice/my-model'."
        )
    for part in parts:
        _check_part(part, repo_id)
    if repo_id.endswith(".git"):
        raise HFValidationError(f"Invalid repo id {repo_id!r}: it may not end with '.git'.")
    return repo_id


def is_valid_repo_id(repo_id: object, *, allow_bare_name: bool = False) -> bool:
    try:
        validate_repo_id(repo_id, allow_bare_name=allow_bare_name)
    except HFValidationError:
        return False
    return True


def validate_repo_type(repo_type: str | None) -> str:
    """``None`` means model; anything outside model/dataset/space is an error."""
    if repo_type is None:
        return "model"
    if repo_type not in REPO_TYPES:
        raise HFValidationError(f"Invalid repo type {repo_type!r}: expected one of {', '.join(REPO_TYPES)}.")
    return repo_type


def validate_path_in_repo(path: object) -> str:
    """Normalise a path inside a repo (``\\`` to ``/``, no leading ``./``) and reject dangerous ones.

    Rejected: empty, absolute, containing NUL or control characters, a ``..`` or ``.`` segment, empty segments,
    or longer than MAX_PATH_LENGTH. These would escape a directory on disk or be ambiguous in a URL.
    """
    if not isinstance(path, str) or not path:
        raise HFValidationError(f"Invalid path in repo {path!r}: it must be a non-empty string.")
    normalised = path.replace("\\", "/")
    while normalised.startswith("./"):
        normalised = normalised[2:]
    if normalised.startswith("/") or re.match(r"^[A-Za-z]:", normalised):
        raise HFValidationError(f"Invalid path in repo {path!r}: it must be relative, not absolute.")
    if any(ord(c) < 32 or c == "\x7f" for c in normalised):
        raise HFValidationError(
            f"Invalid path in repo {path!r}: control characters (NUL, newline...) are not allowed."
        )
    if len(normalised.encode()) > MAX_PATH_LENGTH:
        raise HFValidationError(
            f"Invalid path in repo {path[:60]!r}...: longer than {MAX_PATH_LENGTH} bytes."
        )
    segments = normalised.split("/")
    if any(seg in ("", ".", "..") for seg in segments):
        raise HFValidationError(
            f"Invalid path in repo {path!r}: empty, '.' and '..' segments are not allowed (no escaping the repo)."
        )
    return normalised


def validate_revision(revision: object) -> str:
    """A branch, tag, commit id or ``refs/pr/N``: non-empty, no NUL/control chars, no ``..`` segment."""
    if not isinstance(revision, str) or not revision:
        raise HFValidationError(f"Invalid revision {revision!r}: it must be a non-empty string.")
    if len(revision) > MAX_REVISION_LENGTH or any(ord(c) < 32 or c == "\x7f" for c in revision):
        raise HFValidationError(f"Invalid revision {revision[:60]!r}: too long or has control characters.")
    if any(seg in ("", ".", "..") for seg in revision.split("/")) or revision.endswith(".lock"):
        raise HFValidationError(
            f"Invalid revision {revision!r}: empty, '.' or '..' segments are not allowed."
        )
    return revision


_COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")


def is_commit_hash(revision: str | None) -> bool:
    return revision is not None and bool(_COMMIT_RE.match(revision))
