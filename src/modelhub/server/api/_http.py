"""Helpers shared by the route modules: settings, the caller's identity, raw-path segments, URLs, responses."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Annotated, Any, TypeVar
from urllib.parse import unquote

import anyio.to_thread
from fastapi import Depends
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response

from ..._common.validation import validate_path_in_repo, validate_repo_id, validate_revision
from ...errors import HFValidationError
from ..domain.accounts import AccountDisabled, Principal, TokenCache, TokenExpired
from ..domain.errors import RepoNotFound
from ..domain.hub import HubService
from ..settings import ServerSettings
from ..storage.async_reads import AsyncReads
from ..storage.db import iso
from . import limits
from .errors import INVALID_CREDENTIALS, ApiError, DomainError, bad_request, invalid_credentials, to_api_error

T = TypeVar("T")
PLURAL_TO_TYPE = {"models": "model", "datasets": "dataset", "spaces": "space"}
TYPE_TO_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
TYPE_TO_PLURAL = {v: k for k, v in PLURAL_TO_TYPE.items()}


class _PluralConvertor(Convertor[str]):
    regex = "models|datasets|spaces"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class _PrefixConvertor(Convertor[str]):
    regex = "datasets|spaces"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("plural", _PluralConvertor())
register_url_convertor("typeprefix", _PrefixConvertor())


def hub(request: Request) -> HubService:
    return request.app.state.hub


def settings(request: Request) -> ServerSettings:
    return request.app.state.settings


def principal(request: Request) -> Principal | None:
    """The caller from ``Authorization: Bearer <token>``; None when anonymous; 401 for an unknown (or revoked) or
    expired token.

    The token is checked against the database once per request (then remembered in the request's scope), so a
    revocation takes effect from the next request on. Safe to call from worker threads as well as the event loop
    (a session per lookup, no shared mutable state besides the request's own scope)."""
    if (cached := request.scope.get(_PRINCIPAL, ...)) is not ...:
        return cached
    token = _bearer(request)
    try:
        found = None if token is None else _tokens(request).lookup(token)
    except (TokenExpired, AccountDisabled) as exc:
        raise _refused(exc) from None
    return _remember(request, token, found)


async def principal_on_loop(request: Request, reads: AsyncReads) -> Principal | None:
    """``principal`` awaited on the event loop (PostgreSQL's asyncio reads): the same checks, no worker thread."""
    if (cached := request.scope.get(_PRINCIPAL, ...)) is not ...:
        return cached
    token = _bearer(request)
    try:
        found = None if token is None else await _tokens(request).lookup_on_loop(token, reads)
    except (TokenExpired, AccountDisabled) as exc:
        raise _refused(exc) from None
    return _remember(request, token, found)


_PRINCIPAL = "modelhub.principal"  # the request scope's key of the caller, once checked


def _tokens(request: Request) -> TokenCache:
    return request.app.state.tokens


def _remember(request: Request, token: str | None, found: Principal | None) -> Principal | None:
    if token is not None and found is None:
        raise invalid_credentials()  # unknown, revoked, or its user deleted
    request.scope[_PRINCIPAL] = found
    return found


def _bearer(request: Request) -> str | None:
    """The token of ``Authorization: Bearer <token>``, None without the header; 401 for another scheme."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise invalid_credentials()
    return token


def _refused(exc: TokenExpired | AccountDisabled) -> ApiError:
    """The 401 for a known token that may not be used, saying why and what to do."""
    # X-Error-Message stays the exact invalid-credentials text: both clients compare it to tell a rejected token
    # from a hidden repo; they show the body's explanation after it.
    if isinstance(exc, TokenExpired):
        return ApiError(
            401,
            f"This access token ({exc.token_name!r}) expired at {iso(exc.expired_at)}: ask a hub administrator"
            " for a new one (`modelhub admin token create USER [--expires-in DAYS]`).",
            "InvalidCredentials",
            headers={"X-Error-Message": INVALID_CREDENTIALS},
        )
    return ApiError(
        401,
        f"The account {exc.user!r} is disabled: its tokens are refused. Ask a hub administrator"
        " (`modelhub admin user enable NAME`).",
        "InvalidCredentials",
        headers={"X-Error-Message": INVALID_CREDENTIALS},
    )


def seg(value: str) -> str:
    """Percent-decode one raw path segment (routing happens on the raw path, see app.RawPathMiddleware)."""
    return unquote(value)


def repo_id_from(namespace: str, name: str) -> str:
    if seg(namespace) in _TYPE_SEGMENTS:  # `/datasets/squad/resolve/...`: the bare dataset id `squad`
        raise bare_repo_error(seg(name))
    rid = f"{seg(namespace)}/{seg(name)}"
    try:
        return validate_repo_id(rid)
    except HFValidationError as exc:
        raise bad_request(str(exc), "InvalidRepoId") from exc


# A repo request whose id has no namespace (`gpt2`, as huggingface.co still serves): no route matches it.
_BARE_REPO_PATH = re.compile(
    r"^/(?:api/(?:models|datasets|spaces)/(?P<api>[^/]+)(?:/(?:revision|tree|resolve|commits?|refs|paths-info|"
    r"preupload|discussions|settings|branch|tag|treesize|lfs-files)(?:/.*)?)?"
    r"|(?:datasets/|spaces/)?(?P<web>[^/]+?)(?:\.git)?/(?:resolve|blob|raw|tree|commit|info)/.*)$"
)


_TYPE_SEGMENTS = frozenset({"datasets", "spaces", "models"})  # reserved account names (domain.accounts)


def bare_repo_id_error(path: str) -> ApiError | None:
    """The clear 404 for a repo id without a namespace; None when ``path`` is not such a request."""
    match = _BARE_REPO_PATH.match(path)
    return bare_repo_error(seg(match.group("api") or match.group("web"))) if match else None


# What follows a bare id in the two-segment API paths the clients call (`/api/models/gpt2/refs`): such a path is
# also the repo info route of the repo `gpt2/refs`, so only its not-found answer can tell the caller.
_SUBROUTES_AFTER_A_BARE_ID = frozenset(
    {"refs", "discussions", "likers", "auth-check", "lfs-files", "settings"}
)


def with_bare_id_hint(exc: RepoNotFound, namespace: str, name: str) -> RepoNotFound:
    """``exc`` (``namespace/name`` is not readable), its message extended when ``namespace`` is likely a bare id
    followed by a sub-route. Same status either way: nothing is said about whether the repo exists."""
    if seg(name) not in _SUBROUTES_AFTER_A_BARE_ID:
        return exc
    bare = seg(namespace)
    return RepoNotFound(
        f"{exc} If {bare!r} is a repo id: repo ids on this hub have a namespace ('namespace/name', e.g. "
        f"'alice/{bare}'); ids without one exist only on huggingface.co.",
        anonymous=exc.anonymous,
    )


def bare_repo_error(name: str) -> ApiError:
    return ApiError(
        404,
        f"Repository {name!r} not found: repo ids on this hub have a namespace ('namespace/name', e.g. "
        f"'alice/{name}'). Ids without one, like {name!r}, exist only on huggingface.co.",
        "RepoNotFound",
    )


def revision_from(raw: str) -> str:
    try:
        return validate_revision(seg(raw))
    except HFValidationError as exc:
        raise bad_request(str(exc), "InvalidRevision") from exc


def path_from(raw: str) -> str:
    try:
        return validate_path_in_repo(seg(raw))
    except HFValidationError as exc:
        raise bad_request(str(exc), "InvalidPath") from exc


def check_path(path: Any) -> str:
    try:
        return validate_path_in_repo(path)
    except HFValidationError as exc:
        raise bad_request(str(exc), "InvalidPath") from exc


_HOST_RE = re.compile(r"^[A-Za-z0-9.\-:\[\]]+$")


def base_url(request: Request) -> str:
    """Absolute base URL of this server as the client reached it (or ``--public-url``)."""
    configured = settings(request).public_url
    if configured:
        return configured.rstrip("/")
    host = request.headers.get("host") or ""
    if not _HOST_RE.match(host):
        server = request.scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{request.url.scheme}://{host}"


def repo_web_url(request: Request, repo_type: str, repo_id: str) -> str:
    return f"{base_url(request)}/{TYPE_TO_PREFIX[repo_type]}{repo_id}"


def json_text(data: Any) -> str:
    """The compact JSON of an answer (what ``json_response`` sends; cached answers keep it)."""
    return json.dumps(data, separators=(",", ":"), default=str)


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None, *, encoded: str | None = None
) -> Response:
    """A JSON answer of ``data``, or of its ``encoded`` text when the caller has it already."""
    return Response(
        json_text(data) if encoded is None else encoded,
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def error_response(exc: ApiError | DomainError, head: bool = False) -> Response:
    """The Hub's error answer: ``{"error": message, ...}`` with ``X-Error-Message`` / ``X-Error-Code``."""
    exc = to_api_error(exc)
    body = {"error": exc.message, **exc.extra}
    headers = {"X-Error-Message": _header_safe(exc.message), **exc.headers}
    if exc.code:
        headers["X-Error-Code"] = exc.code
    resp = json_response(body, exc.status, headers)
    if head:
        resp.body = b""
    return resp


def _header_safe(text: str) -> str:
    return text.encode("ascii", "replace").decode().replace("\n", " ")[:500]


async def read_json(request: Request) -> Any:
    """The JSON body (None when empty), bounded by ``max_json_body`` and ``limits.MAX_JSON_DEPTH``; 400 if it is
    not JSON. A large body is parsed on a worker thread."""
    limit = settings(request).max_json_body
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, f"Request body larger than {limit} bytes.", "TooLarge")
    if not body.strip():
        return None
    if len(body) > 64 * 1024:
        return await run(limits.loads, bytes(body))
    return limits.loads(body)


async def run(fn: Callable[..., T], *args: Any) -> T:
    """Run blocking work (database, disk, parsing) on the thread pool, off the event loop."""
    return await anyio.to_thread.run_sync(functools.partial(fn, *args))


is_int = limits.is_int


def check_commit_path(path: Any) -> str:
    """A path a commit may write: ``check_path`` plus no ``.git`` folder and no blank segment."""
    checked = check_path(path)
    for part in checked.split("/"):
        if part.lower() == ".git":
            raise bad_request(
                f"Invalid path {checked!r}: a '.git' folder cannot be part of a repo.", "InvalidPath"
            )
        if not part.strip():
            raise bad_request(f"Invalid path {checked!r}: a path segment may not be blank.", "InvalidPath")
    return checked


async def read_json_object(request: Request) -> dict[str, Any]:
    data = await read_json(request)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object.")
    return data


async def _json_object_dependency(request: Request) -> dict[str, Any]:
    return await read_json_object(request)


# A handler parameter that receives the request's JSON object body, read (bounded) on the event loop before the
# handler runs; with it, handlers are plain ``def`` functions and so run on the thread pool (see the rule in
# docs/architecture.md: no database or disk work on the event loop).
JsonObject = Annotated[dict[str, Any], Depends(_json_object_dependency)]
