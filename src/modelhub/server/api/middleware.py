"""ASGI middleware of the API: routing on the raw path, body limits, one access-log line per request."""

from __future__ import annotations

import logging
import time
from typing import Any

from ..settings import ServerSettings
from . import _http as h
from .errors import ApiError

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

    The line has method, path (query signatures redacted), status, bytes sent, duration and bytes received;
    never headers, so tokens never reach the log."""

    def __init__(self, app: Any, settings: ServerSettings) -> None:
        self.app = app
        self.settings = settings

    def _limit(self, path: str) -> int:
        if path.startswith("/lfs-upload/"):
            return self.settings.max_object_size
        if path.startswith("/cas/"):  # xorbs (64 MiB of content + headers + an old client's footer), shards
            return 67 * 2**20
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
            self._log(scope, state["status"] or 500, state["sent"], start, state["received"])

    @staticmethod
    def _log(scope: dict, status: int, sent: int, start: float, received: int = 0) -> None:
        if not access_logger.isEnabledFor(logging.INFO):
            return
        client = scope.get("client") or ("-", 0)
        query = scope.get("query_string", b"").decode("latin-1")
        if "sig=" in query:
            query = "&".join(p if not p.startswith("sig=") else "sig=REDACTED" for p in query.split("&"))
        target = scope.get("path", "") + (f"?{query}" if query else "")
        access_logger.info(
            '%s "%s %s" %d %dB %.1fms in=%dB',
            client[0],
            scope["method"],
            target,
            status,
            sent,
            (time.perf_counter() - start) * 1000,
            received,
        )
