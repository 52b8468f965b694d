"""HTTP errors of the server, rendered as the Hub does: JSON ``{"error": ...}`` + ``X-Error-Code`` / ``-Message``.

``ApiError`` is an answer decided by the HTTP layer itself (a bad signature, a body too large); refusals of the
domain (``domain/errors.py``) are mapped to statuses by ``to_api_error``, here and nowhere else. The domain's
constructors are re-exported so route modules import all error helpers from one place."""

from __future__ import annotations

from typing import Any

from ..domain.errors import (  # noqa: F401 - re-exported for the route modules
    Conflict,
    DomainError,
    EntryNotFound,
    Forbidden,
    GatedRepo,
    InvalidInput,
    NotFound,
    RepoExists,
    RepoNotFound,
    RevisionNotFound,
    StaleParent,
    TooLarge,
    Unauthorized,
    Unavailable,
    auth_required,
    bad_request,
    entry_not_found,
    forbidden,
    repo_not_found,
    revision_not_found,
    stale_parent,
)


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


INVALID_CREDENTIALS = "Invalid credentials in Authorization header"


def invalid_credentials() -> ApiError:
    return ApiError(401, INVALID_CREDENTIALS, "InvalidCredentials")


# The one place where the domain's refusals become HTTP statuses (first match in the class's MRO wins).
STATUS: dict[type[DomainError], int] = {
    InvalidInput: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    StaleParent: 412,
    Conflict: 409,
    TooLarge: 413,
    Unavailable: 503,
}


def to_api_error(exc: DomainError | ApiError) -> ApiError:
    """The HTTP answer for a domain error (an ``ApiError`` passes through)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, RepoNotFound):
        status = 401 if exc.anonymous else 404
    elif isinstance(exc, GatedRepo):
        status = 401 if exc.anonymous else 403
    else:
        status = next((STATUS[k] for k in type(exc).__mro__ if k in STATUS), 400)
    return ApiError(status, exc.message, exc.code, headers=exc.headers, extra=exc.extra)
