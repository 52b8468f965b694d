"""What every page shares: rendering a template with the viewer, the security headers, the HTML error pages
(``HtmlRoute``: a refusal of the domain becomes a page, and a repo one may not read is the same 404 page as a
missing one), and redirects after a form."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..._version import __version__
from ...errors import HFValidationError
from ..api import _http as h
from ..api.errors import ApiError, DomainError, RepoNotFound, to_api_error
from . import render
from .session import CSRF_FIELD, Viewer, cached_viewer, set_csrf_cookie, viewer

# Pages run no inline script and load nothing from elsewhere; card images may come from any https host.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "private, no-cache",
}


def render_page(
    request: Request, template: str, status_code: int = 200, v: Viewer | None = None, **context: Any
) -> HTMLResponse:
    v = v or cached_viewer(request) or Viewer(None, "anonymous", "")
    html = (
        render.environment()
        .get_template(template)
        .render(
            viewer=v,
            user=v.name,
            csrf_field=CSRF_FIELD,
            csrf=v.csrf,
            version=__version__,
            endpoint=h.base_url(request),
            page_path=request.url.path,
            query=request.query_params,
            **context,
        )
    )
    response = HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)
    if v.new_csrf_cookie:
        set_csrf_cookie(request, response, v.csrf)
    return response


def page(request: Request, template: str, **context: Any) -> HTMLResponse:
    """A page for the caller (looked up here: call from ``def`` handlers)."""
    return render_page(request, template, v=viewer(request), **context)


def redirect(url: str) -> Response:
    """After a successful form: 303 See Other, so that reloading does not post again."""
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


def error_page(request: Request, exc: DomainError | ApiError | HFValidationError) -> Response:
    if isinstance(exc, HFValidationError):
        exc = ApiError(400, str(exc), "ValidationError")
    if isinstance(exc, RepoNotFound):  # anonymous or not: the very page of a repo that does not exist
        status, title, message = 404, "Not found", "This repository does not exist, or you cannot see it."
    else:
        err = to_api_error(exc)
        status, message = err.status, err.message
        title = {400: "Bad request", 401: "Sign in needed", 403: "Not allowed", 404: "Not found"}.get(
            status, "Something went wrong"
        )
    return render_page(request, "error.html", status_code=status, title=title, message=message)


class HtmlRoute(APIRoute):
    """A page route: refusals render as HTML error pages instead of the API's JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await inner(request)
            except (DomainError, ApiError, HFValidationError) as exc:
                return error_page(request, exc)

        return handler


def web_router() -> APIRouter:
    return APIRouter(route_class=HtmlRoute, include_in_schema=False)
