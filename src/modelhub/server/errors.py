"""HTTP errors of the server, rendered as the Hub does: JSON ``{"error": ...}`` + ``X-Error-Code`` / ``-Message``."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error answer. ``code`` goes to ``X-Error-Code`` (the official client maps it to an exception type)."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}
        self.extra = extra or {}


def repo_not_found(repo_id: str, anonymous: bool) -> ApiError:
    msg = f"Repository {repo_id!r} not found (or it is private and your token cannot see it)."
    if anonymous:
        msg += " Pass a token if it is private."
    return ApiError(401 if anonymous else 404, msg, "RepoNotFound")


def revision_not_found(repo_id: str, revision: str) -> ApiError:
    return ApiError(
        404,
        f"Revision {revision!r} not found in {repo_id!r}: use a branch, a tag, a commit id or refs/pr/N.",
        "RevisionNotFound",
    )


def entry_not_found(repo_id: str, revision: str, path: str, commit: str | None = None) -> ApiError:
    headers = {"X-Repo-Commit": commit} if commit else {}
    return ApiError(
        404,
        f"Entry {path!r} not found in {repo_id!r} at revision {revision!r}.",
        "EntryNotFound",
        headers=headers,
    )


def bad_request(message: str, code: str = "BadRequest") -> ApiError:
    return ApiError(400, message, code)


def forbidden(message: str) -> ApiError:
    return ApiError(403, message, "Forbidden")


INVALID_CREDENTIALS = "Invalid credentials in Authorization header"


def invalid_credentials() -> ApiError:
    return ApiError(401, INVALID_CREDENTIALS, "InvalidCredentials")


def auth_required(what: str) -> ApiError:
    return ApiError(
        401, f"Authentication required to {what}: pass a token (Authorization: Bearer ...).", "Unauthorized"
    )
