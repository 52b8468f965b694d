"""The index page: recent public repos, and how to point a client at this hub."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from ..._version import __version__
from ..api import _http as h
from ..domain import views

router = APIRouter()


@router.get("/", include_in_schema=False)
def index(request: Request) -> Response:
    with h.hub(request).sessions() as db:
        repos = views.recent_repos(db, None, limit=50)
        items = "".join(
            f"<li><a href='/api/{h.TYPE_TO_PLURAL[r.type]}/{r.repo_id}'>{r.type}: {r.repo_id}</a></li>"
            for r in repos
        )
    return HTMLResponse(
        f"<!doctype html><title>modelhub</title><h1>modelhub {__version__}</h1>"
        f"<p>Hugging Face Hub compatible server. Set <code>HF_ENDPOINT={h.base_url(request)}</code>."
        f" API: <a href='/docs'>/docs</a></p><h2>Recent public repos</h2><ul>{items}</ul>"
    )
