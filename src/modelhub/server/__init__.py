"""modelhub's hub server: a Hugging Face Hub compatible HTTP API (``modelhub serve``).

Modules: ``app`` (ASGI app, middleware), ``routes_repos`` / ``routes_files`` / ``discussions`` (HTTP routes),
``service`` (repos, revisions, commits, refs), ``trees`` (file trees), ``ndjson`` (streaming commit parser),
``accounts`` (users, orgs, tokens, permissions), ``db`` (SQLAlchemy schema), ``blobstore`` (content-addressed
blobs), ``cli`` (``serve`` / ``admin`` commands). Importing this package is cheap: FastAPI, uvicorn and
SQLAlchemy are imported by the modules that need them, never here.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(name)
