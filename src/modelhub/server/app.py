"""The ASGI application: ``create_app`` builds it from settings (or the environment) and wires the rooms together.

``uvicorn --factory modelhub.server.app:create_app --workers N`` runs N processes of it on one data directory
(use PostgreSQL for that; see docs/server.md); ``modelhub serve`` does the same in one process plus first-run setup.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.routing import Match

from .._version import __version__
from ..errors import HFValidationError
from .api import _http as h
from .api import (
    accounts,
    cards,
    commit,
    community,
    discussions,
    lfs,
    misc,
    openapi,
    refs,
    repos,
    resolve,
    tree,
    xet_tokens,
)
from .api.errors import ApiError, DomainError
from .api.middleware import LimitAndLogMiddleware, RawPathMiddleware
from .api.resolve import ResolveFastPath
from .domain import objects
from .domain.accounts import TokenCache
from .domain.hub import HubService
from .settings import ServerSettings
from .storage.async_reads import AsyncReads
from .storage.blobs import open_blob_store
from .storage.db import Setting, open_database
from .storage.migrate import check_current
from .web import pages
from .xet import routes as cas
from .xet.store import XetStore

logger = logging.getLogger(__name__)


def _secret(sessions) -> bytes:
    """The key that signs LFS upload URLs, generated once and stored in the database (shared by all workers)."""
    with sessions() as db:
        row = db.get(Setting, "lfs_secret")
        if row is None:
            db.add(Setting(key="lfs_secret", value=secrets.token_hex(32)))
            try:
                db.commit()
            except Exception:  # another process created it first
                db.rollback()
            row = db.get(Setting, "lfs_secret")
        return bytes.fromhex(row.value)


def create_app(settings: ServerSettings | None = None) -> Any:
    """The application for a data directory / database (``ServerSettings.from_env()`` when none are given)."""
    settings = settings or ServerSettings.from_env()
    sessions = open_database(settings.database_url)
    # never creates or migrates: `modelhub serve` / `modelhub admin init` create a hub, `admin migrate` upgrades
    check_current(sessions.kw["bind"], f"modelhub admin migrate {settings.storage.cli_flags()}")
    blobs = open_blob_store(settings.blob_store, settings.data_dir, s3_endpoint_url=settings.s3_endpoint_url)
    removed, removed_bytes = blobs.cleanup_tmp()  # whatever their age: their processes are gone
    if removed:
        logger.info("removed %d partial uploads (%d bytes) of earlier runs", removed, removed_bytes)
    objects.backfill(sessions)

    app = FastAPI(
        title="modelhub",
        version=__version__,
        description="A self-hostable model hub speaking the Hugging Face Hub HTTP API.",
        docs_url=None,  # web/pages.py serves /docs with Swagger UI's files from a package (works offline)
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.hub = HubService(sessions, blobs)
    app.state.tokens = TokenCache(sessions)
    # PostgreSQL: the resolve fast path's token check, awaited on the loop (storage/async_reads.py); None on SQLite
    app.state.async_reads = AsyncReads.for_engine(sessions.kw["bind"])
    if app.state.async_reads is not None:
        app.router.on_shutdown.append(app.state.async_reads.close)
    app.router.on_shutdown.append(app.state.hub.downloads.flush)  # uvicorn re-raises SIGTERM: no atexit
    app.state.secret = _secret(sessions)
    app.state.xet = XetStore(sessions, blobs)  # the CAS's storage; the hub reads Xet files through it
    app.state.hub.xet = app.state.xet
    _error_handlers(app)
    for room in (
        accounts,
        repos,
        refs,
        tree,
        xet_tokens,
        cards,
        commit,
        lfs,
        resolve,
        discussions,
        community,
        misc,
        pages,
    ):
        app.include_router(room.router)
    app.include_router(cas.router)  # the CAS under /cas (api/xet_tokens.CAS_PREFIX)
    app.include_router(cas.root_router)
    openapi.install(app)  # the document declares what the routes take and answer (api/openapi.py)
    return RawPathMiddleware(LimitAndLogMiddleware(ResolveFastPath(app), settings))


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> list[str]:
    """The methods that some route serves at the request's path (routes are one per method, nested in routers)."""
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)
    ]


def _error_handlers(app: FastAPI) -> None:
    """Every error becomes the Hub's JSON answer (``api/_http.error_response``); domain refusals are mapped to
    statuses in ``api/errors.to_api_error``."""

    @app.exception_handler(ApiError)
    @app.exception_handler(DomainError)
    async def _api_error(request: Request, exc: ApiError | DomainError) -> Response:
        return h.error_response(exc, head=request.method == "HEAD")

    @app.exception_handler(HFValidationError)
    async def _validation(request: Request, exc: HFValidationError) -> Response:
        return h.error_response(ApiError(400, str(exc), "ValidationError"))

    @app.exception_handler(RequestValidationError)
    async def _req_validation(request: Request, exc: RequestValidationError) -> Response:
        return h.error_response(ApiError(400, f"Invalid request: {exc.errors()!s:.300}", "ValidationError"))

    @app.exception_handler(StarletteHTTPException)
    async def _http_exc(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404 and pages.wants_page(request):  # a browser on an unknown URL: the 404 page
            return pages.not_found(request)
        # a bare id routes nowhere (404), or onto a repo path with another method (`PUT /api/models/gpt2/settings`)
        bare = h.bare_repo_id_error(request.url.path) if exc.status_code in (404, 405) else None
        if bare is not None:
            return h.error_response(bare, head=request.method == "HEAD")
        msg = f"{request.method} {request.url.path}: {exc.detail}"
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # Starlette's Allow names the methods of the first route of the path only
            headers["Allow"] = ", ".join(_allowed_methods(request)) or headers.get("Allow", "")
        err = ApiError(exc.status_code, msg, None, headers=headers)
        return h.error_response(err, head=request.method == "HEAD")

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect) -> Response:
        # the client hung up (mid-upload): nothing to answer, nothing stored; the access log shows 499
        return Response(status_code=499)

    @app.exception_handler(OperationalError)
    async def _db_busy(request: Request, exc: OperationalError) -> Response:
        # SQLite's write lock held past the busy timeout (e.g. by the admin CLI), or a database connection lost
        logger.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc.orig)
        busy = ApiError(
            503,
            "The hub's database is busy or unavailable; retry in a moment.",
            "Unavailable",
            headers={"Retry-After": "1"},
        )
        return h.error_response(busy, head=request.method == "HEAD")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return h.error_response(
            ApiError(500, f"Internal server error ({type(exc).__name__}); see the server log.", "Internal")
        )
