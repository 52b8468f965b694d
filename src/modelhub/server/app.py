"""The ASGI application: FastAPI routes + raw-path routing, request limits, one access-log line per request."""

from __future__ import annotations

import logging
import secrets
import time
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, Response

from .._version import __version__
from ..errors import HFValidationError
from . import _http as h
from . import objects
from .accounts import TokenCache
from .blobstore import LocalBlobStore
from .db import Repo, Setting, open_database
from .errors import ApiError
from .service import HubService

logger = logging.getLogger(__name__)
access_logger = logging.getLogger("modelhub.server.access")


class RawPathMiddleware:
    """Route on the raw (still percent-encoded) path.

    The official client encodes ``/`` inside a revision (``refs%2Fpr%2F1``) and inside tree paths; Starlette would
    decode it before routing and make the URL ambiguous. Handlers percent-decode each segment themselves."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("raw_path"):
            scope = dict(scope)
            scope["path"] = scope["raw_path"].decode("latin-1").split("?", 1)[0]
        await self.app(scope, receive, send)


class LimitAndLogMiddleware:
    """Enforces body size limits (by ``Content-Length`` and while streaming) and logs one line per request.

    The line has method, path (query signatures redacted), status, bytes sent and duration; never headers, so
    tokens never reach the log."""

    def __init__(self, app: Any, settings: h.ServerSettings) -> None:
        self.app = app
        self.settings = settings

    def _limit(self, path: str) -> int:
        if path.startswith("/lfs-upload/"):
            return self.settings.max_object_size
        if "/commit/" in path:
            return self.settings.max_commit_body
        return self.settings.max_json_body

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        path = scope.get("path", "")
        limit = self._limit(path)
        state = {"status": 0, "sent": 0, "received": 0}
        declared = None
        request_id = b""
        for k, v in scope.get("headers", ()):
            if k == b"content-length":
                try:
                    declared = int(v)
                except ValueError:
                    declared = None
            elif k == b"x-amzn-trace-id" and len(v) <= 100:
                request_id = v  # the official client sends one per request: echo it so errors quote it
        if declared is not None and declared > limit:
            resp = h.error_response(
                ApiError(413, f"Request body of {declared} bytes exceeds the {limit}-byte limit.", "TooLarge")
            )
            await resp(scope, receive, send)
            self._log(scope, 413, 0, start)
            return

        async def counting_receive() -> dict:
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > limit:
                    raise ApiError(413, f"Request body exceeds the {limit}-byte limit.", "TooLarge")
            return message

        async def logging_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                if request_id:
                    message["headers"] = [*message.get("headers", ()), (b"x-request-id", request_id)]
            elif message["type"] == "http.response.body":
                state["sent"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, counting_receive, logging_send)
        finally:
            self._log(scope, state["status"] or 500, state["sent"], start)

    @staticmethod
    def _log(scope: dict, status: int, sent: int, start: float) -> None:
        if not access_logger.isEnabledFor(logging.INFO):
            return
        client = scope.get("client") or ("-", 0)
        query = scope.get("query_string", b"").decode("latin-1")
        if "sig=" in query:
            query = "&".join(p if not p.startswith("sig=") else "sig=REDACTED" for p in query.split("&"))
        target = scope.get("path", "") + (f"?{query}" if query else "")
        access_logger.info(
            '%s "%s %s" %d %dB %.1fms',
            client[0],
            scope["method"],
            target,
            status,
            sent,
            (time.perf_counter() - start) * 1000,
        )


class ResolveFastPath:
    """Serves ``GET``/``HEAD`` ``/{repo}/resolve/{rev}/{path}`` without going through the router.

    This is the hottest route (every download starts with a HEAD, and ``transformers`` probes many optional
    files); routing through ~50 FastAPI routes costs more than the work itself. The same handler
    (``routes_files.resolve_response``) backs the documented route.

    The work (token check, database, small-file read) runs on a worker thread, never on the event loop. Small
    answers (HEAD, errors, GET bodies up to 4 KiB) are also kept in the service's ``HotCache``, keyed by method,
    raw path and the caller (user and token role, after the token was checked), so the access decision is the one
    made for that caller. Like the other hot-path entries they are dropped on every committed write of this
    process and live at most the cache TTL (2 s) otherwise."""

    MAX_CACHED_BODY = 4096

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD") and "/resolve/" in scope["path"]:
            parts = scope["path"].split("/", 6)
            # ['', ns, name, 'resolve', rev, path...] or ['', 'datasets', ns, name, 'resolve', rev, path]
            if len(parts) >= 6 and parts[3] == "resolve" and parts[1] not in ("api", "datasets", "spaces"):
                target = ("model", parts[1], parts[2], parts[4], "/".join(parts[5:]))
            elif len(parts) == 7 and parts[4] == "resolve" and parts[1] in ("datasets", "spaces"):
                target = (h.PLURAL_TO_TYPE[parts[1]], parts[2], parts[3], parts[5], parts[6])
            else:
                target = None
            if target is not None and target[4]:
                await self._resolve(scope, receive, send, target)
                return
        await self.app(scope, receive, send)

    async def _resolve(self, scope: dict, receive: Any, send: Any, target: tuple[str, ...]) -> None:
        from starlette.requests import Request as StarletteRequest

        scope["app"] = self.app
        request = StarletteRequest(scope, receive)
        ranged = any(k in (b"range", b"if-range") for k, _ in scope["headers"])
        response = await anyio.to_thread.run_sync(self._answer, request, target, ranged)
        await response(scope, receive, send)

    def _answer(self, request: Any, target: tuple[str, ...], ranged: bool) -> Response:
        """The answer, on a worker thread: the token and the database are looked up here, never on the loop."""
        from .routes_files import resolve_response
        from .service import _MISS

        head = request.method == "HEAD"
        try:
            p = h.principal(request)  # checked on every request: a revoked token stops at once
        except ApiError as exc:
            return h.error_response(exc, head=head)
        hot = self.app.state.hub.hot
        key = ("resolve", request.method, request.scope["path"], None if p is None else (p.user_id, p.role))
        if not ranged:
            hit = hot.get(key)
            if hit is not _MISS:
                status, headers, body = hit
                cached = Response(body, status_code=status)
                cached.raw_headers = list(headers)
                return cached
        gen = hot.gen
        try:
            response = resolve_response(request, *target)
        except ApiError as exc:
            response = h.error_response(exc, head=head)
        body = getattr(response, "body", None)
        if (
            not ranged
            and body is not None
            and len(body) <= self.MAX_CACHED_BODY
            and response.status_code < 500
        ):
            hot.put(key, (response.status_code, response.raw_headers, body), gen)
        return response


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


def create_app(settings: h.ServerSettings) -> Any:
    """Build the application for a data directory / database (also used by the tests' server process)."""
    from .discussions import router as discussions_router
    from .routes_files import router as files_router
    from .routes_repos import router as repos_router

    data_dir = Path(settings.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    sessions = open_database(settings.database_url)
    blobs = LocalBlobStore(data_dir / "blobs")
    removed, removed_bytes = blobs.cleanup_tmp()  # whatever their age: their processes are gone
    if removed:
        logger.info("removed %d partial uploads (%d bytes) of earlier runs", removed, removed_bytes)
    objects.backfill(sessions)

    app = FastAPI(
        title="modelhub",
        version=__version__,
        description="A self-hostable model hub speaking the Hugging Face Hub HTTP API.",
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.hub = HubService(sessions, blobs)
    app.state.tokens = TokenCache(sessions)
    app.state.secret = _secret(sessions)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return h.error_response(exc, head=request.method == "HEAD")

    @app.exception_handler(HFValidationError)
    async def _validation(request: Request, exc: HFValidationError) -> Response:
        return h.error_response(ApiError(400, str(exc), "ValidationError"))

    @app.exception_handler(RequestValidationError)
    async def _req_validation(request: Request, exc: RequestValidationError) -> Response:
        return h.error_response(ApiError(400, f"Invalid request: {exc.errors()!s:.300}", "ValidationError"))

    @app.exception_handler(StarletteHTTPException)
    async def _http_exc(request: Request, exc: StarletteHTTPException) -> Response:
        msg = f"{request.method} {request.url.path}: {exc.detail}"
        err = ApiError(exc.status_code, msg, None, headers=dict(exc.headers or {}))  # 405 keeps its Allow
        return h.error_response(err, head=request.method == "HEAD")

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

    @app.get("/", include_in_schema=False)
    def index(request: Request) -> Response:
        service: HubService = request.app.state.hub
        with service.sessions() as db:
            repos = db.scalars(
                select(Repo).where(Repo.private.is_(False)).order_by(Repo.last_modified.desc()).limit(50)
            ).all()
            items = "".join(
                f"<li><a href='/api/{h.TYPE_TO_PLURAL[r.type]}/{r.repo_id}'>{r.type}: {r.repo_id}</a></li>"
                for r in repos
            )
        return HTMLResponse(
            f"<!doctype html><title>modelhub</title><h1>modelhub {__version__}</h1>"
            f"<p>Hugging Face Hub compatible server. Set <code>HF_ENDPOINT={h.base_url(request)}</code>."
            f" API: <a href='/docs'>/docs</a></p><h2>Recent public repos</h2><ul>{items}</ul>"
        )

    @app.get("/api/health", tags=["misc"])
    async def health() -> dict[str, str]:  # on the loop on purpose: it measures that the loop is free
        return {"status": "ok", "version": __version__}

    @app.get("/api/agent-harnesses", tags=["misc"])
    def agent_harnesses() -> dict[str, Any]:
        return {"standardEnvVars": [], "harnesses": {}}

    @app.head("/api/telemetry/{rest:path}", tags=["misc"])
    @app.post("/api/telemetry/{rest:path}", tags=["misc"])
    def telemetry(rest: str) -> Response:
        return Response(status_code=200)

    app.include_router(repos_router)
    app.include_router(files_router)
    app.include_router(discussions_router)
    return RawPathMiddleware(LimitAndLogMiddleware(ResolveFastPath(app), settings))
