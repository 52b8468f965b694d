"""Who is looking at a page (a login session cookie, a bearer token, or nobody) and the CSRF rule of every form.

- The session cookie is HttpOnly, SameSite=Lax, Secure when the page is served over https, and holds only a
  random value (``domain/logins.py`` keeps its hash server-side).
- Every form carries a CSRF token: a signed-in user's is stored with the session; an anonymous visitor's (the
  sign-in form) is a random value also set as an HttpOnly cookie (double submit). A POST whose token does not
  match, or whose ``Origin`` is another site, is refused with 403 before anything happens.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlsplit

from fastapi import Depends
from starlette.requests import Request
from starlette.responses import Response

from ..api import _http as h
from ..api.errors import ApiError
from ..domain.accounts import Principal
from ..domain.errors import Forbidden
from ..domain.logins import SESSION_LIFETIME, session_user

SESSION_COOKIE = "modelhub_session"
CSRF_COOKIE = "modelhub_csrf"
CSRF_FIELD = "csrf_token"
MAX_FORM = 256 * 1024


@dataclass
class Viewer:
    """The caller of a page: ``principal`` (None when anonymous), how it signed in, the CSRF token its forms
    carry, and whether that token still has to be set as a cookie (first visit of an anonymous browser)."""

    principal: Principal | None
    via: str  # "session" | "token" | "anonymous"
    csrf: str
    new_csrf_cookie: bool = False

    @property
    def name(self) -> str | None:
        return self.principal.name if self.principal else None


def viewer(request: Request) -> Viewer:
    """Look the caller up (once per request; a database query, so from ``def`` handlers only)."""
    cached = request.scope.get("modelhub.viewer")
    if cached is not None:
        return cached
    if request.headers.get("authorization"):
        found = Viewer(h.principal(request), "token", "")
    else:
        signed = session_user(h.hub(request).sessions, request.cookies.get(SESSION_COOKIE, ""))
        if signed is not None:
            found = Viewer(signed.principal, "session", signed.csrf)
        else:
            token = request.cookies.get(CSRF_COOKIE, "")
            fresh = not (16 <= len(token) <= 64)
            found = Viewer(None, "anonymous", secrets.token_urlsafe(32) if fresh else token, fresh)
    request.scope["modelhub.viewer"] = found
    return found


def cached_viewer(request: Request) -> Viewer | None:
    """The viewer if a handler already looked it up (error pages use it: no query on the event loop)."""
    return request.scope.get("modelhub.viewer")


def require_csrf(request: Request, form: dict[str, str]) -> Viewer:
    """The viewer of a form POST, after checking its CSRF token and origin; 403 otherwise."""
    v = viewer(request)
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != urlsplit(h.base_url(request)).netloc:
        raise Forbidden(f"Form posted from another site ({origin[:100]}); refused.", "CsrfRefused")
    if v.via == "token":  # a bearer token is never sent by a browser on its own: no cross-site forgery
        return v
    sent = form.get(CSRF_FIELD, "")
    if v.new_csrf_cookie or not sent or not hmac.compare_digest(sent, v.csrf):
        raise Forbidden(
            "This form's security token is missing or out of date (CSRF check): reload the page and try again.",
            "CsrfRefused",
        )
    return v


def is_https(request: Request) -> bool:
    return h.base_url(request).startswith("https://")


def set_session_cookie(request: Request, response: Response, value: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=is_https(request),
        path="/",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax", secure=is_https(request), path="/")


def set_csrf_cookie(request: Request, response: Response, value: str) -> None:
    response.set_cookie(CSRF_COOKIE, value, httponly=True, samesite="lax", secure=is_https(request), path="/")


async def _form_dependency(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body, at most ``MAX_FORM`` bytes, as a dict (last value wins)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise ApiError(400, f"Expected a form (application/x-www-form-urlencoded), got {kind[:80]!r}.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise ApiError(413, f"Form larger than {MAX_FORM} bytes.", "TooLarge")
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, f"Unreadable form: {exc}") from None


# A ``def`` handler's parameter receiving the posted form, read (bounded) on the event loop before it runs.
WebForm = Annotated[dict[str, Any], Depends(_form_dependency)]
