"""The web pages' router: home and search (``/``, ``/models``, ``/datasets``), user and organization pages
(``/{name}``), the offline API docs (``/docs``) and the static assets (``/-/static/...``), plus the routers of
``account_pages``, ``repo_pages`` and ``community``. Single-segment pages come last, so that ``/login`` or
``/docs`` are never read as an account name (those names are reserved in ``domain/accounts.py``)."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import resources

from fastapi.openapi.docs import get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import Response

from ..api import _http as h
from ..domain import views
from ..domain.errors import NotFound
from . import account_pages, community, render, repo_pages  # noqa: F401 - community registers its routes
from ._page import SECURITY_HEADERS, error_page, page, web_router
from .session import viewer

router = web_router()
PER_PAGE = 30
SORTS = {
    "modified": ("lastModified", None),
    "downloads": ("downloads", None),  # last 30 days, as on the Hub (domain/downloads.py)
    "likes": ("likes", None),
    "name": ("id", "asc"),
    "created": ("createdAt", None),
}
STATIC_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml", ".png": "image/png"}


def _listing(request: Request, repo_type: str, author: str | None = None) -> dict[str, object]:
    """The search form's answer: one page of the readable repos of a type, the facets, what was asked.
    ``author``: an account page's own repos; else the ``author`` of the query (the account page's "see all"
    link), which the form, the sort and the pager keep."""
    q = request.query_params
    asked_author = None if author else (q.get("author") or "").strip()[:96] or None
    search = (q.get("search") or "").strip()[:200]
    filters = [f[:200] for f in q.getlist("filter") if f][:10]
    sort = str(q.get("sort")) if q.get("sort") in SORTS else "modified"
    raw_page = q.get("p", "0")
    page_num = int(raw_page) if raw_page.isdigit() and len(raw_page) < 7 else 0
    principal = viewer(request).principal
    key, direction = SORTS[sort]
    service = h.hub(request)
    with service.sessions() as db:
        repos, total = views.search_repos(
            db, principal, repo_type, author=author or asked_author, search=search or None, filters=filters, sort=key,
            direction=direction, offset=page_num * PER_PAGE, limit=PER_PAGE, counter=service.downloads,
        )  # fmt: skip
        facets = views.repo_facets(db, principal, repo_type) if not (author or asked_author) else None
    return {
        "repo_type": repo_type, "repos": repos, "total": total, "search": search, "filters": filters,
        "sort": sort, "author": asked_author, "page_num": page_num, "pages": (total + PER_PAGE - 1) // PER_PAGE, "facets": facets,
    }  # fmt: skip


@router.get("/")
def home(request: Request) -> Response:
    return page(request, "home.html", home=True, **_listing(request, "model"))


@router.get("/models")
def models(request: Request) -> Response:
    return page(request, "home.html", home=False, **_listing(request, "model"))


@router.get("/datasets")
def datasets(request: Request) -> Response:
    return page(request, "home.html", home=False, **_listing(request, "dataset"))


# --- offline API docs and static assets ----------------------------------------------------------------------


@lru_cache(maxsize=64)
def _asset(package: str, name: str) -> tuple[bytes, str] | None:
    try:
        data = (resources.files(package) / name).read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, ModuleNotFoundError):
        return None
    return data, hashlib.sha256(data).hexdigest()[:16]


def _serve_asset(request: Request, package: str, name: str) -> Response:
    suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
    if "/" in name or name.startswith(".") or suffix not in STATIC_TYPES:
        raise NotFound(f"No asset {name[:100]!r}.")
    if name == "pygments.css":
        found: tuple[bytes, str] | None = (render.pygments_css().encode(), "pygments")
    else:
        found = _asset(package, name)
    if found is None:
        raise NotFound(f"No asset {name[:100]!r}.")
    data, etag = found
    headers = {
        "ETag": f'"{etag}"',
        "Cache-Control": "public, max-age=3600",
        "X-Content-Type-Options": "nosniff",
    }
    if request.headers.get("if-none-match") == f'"{etag}"':
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=STATIC_TYPES[suffix], headers=headers)


@router.get("/-/static/{name}")
def static(request: Request, name: str) -> Response:
    return _serve_asset(request, "modelhub.server.web.static", name)


@router.get("/-/docs/{name}")
def docs_asset(request: Request, name: str) -> Response:
    """Swagger UI's files, from the fastapi-offline package (no CDN: the docs work offline)."""
    return _serve_asset(request, "fastapi_offline.static", name)


@router.get("/docs")
def api_docs(request: Request) -> Response:
    html = get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="modelhub API",
        swagger_js_url="/-/docs/swagger-ui-bundle.js",
        swagger_css_url="/-/docs/swagger-ui.css",
        swagger_favicon_url="/-/static/favicon.svg",
    )
    # Swagger UI starts from an inline script: this page alone allows one (it shows no user content)
    headers = {k: v for k, v in SECURITY_HEADERS.items() if k != "Content-Security-Policy"}
    headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; object-src 'none'; frame-ancestors 'none'"
    )
    return Response(html.body, media_type="text/html", headers=headers)


def wants_page(request: Request) -> bool:
    """Whether an unknown URL should answer the HTML 404 page (a browser, not an API path) rather than JSON."""
    path = request.url.path
    return "text/html" in request.headers.get("accept", "") and not path.startswith(("/api/", "/lfs-"))


def not_found(request: Request) -> Response:
    return error_page(request, NotFound("There is no page at this address."))


router.include_router(account_pages.router)
router.include_router(repo_pages.router)


@router.get("/{owner}")
def owner_page(request: Request, owner: str) -> Response:
    """A user's or an organization's page: their repos that the viewer may read (and an org's members)."""
    name = h.seg(owner)
    with h.hub(request).sessions() as db:
        account = views.find_account(db, name)
        if account is None:
            raise NotFound(f"No user or organization named {name[:100]!r}.")
        members = views.org_members(db, account) if account.kind == "org" else []
    return page(
        request,
        "owner.html",
        account=account,
        members=members,
        models=_listing(request, "model", author=name),
        datasets=_listing(request, "dataset", author=name),
    )
