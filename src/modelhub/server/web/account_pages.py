"""Accounts in the browser: sign in / out (``/login``, ``/logout``), access tokens (``/settings/tokens``: create,
shown once; list with last use; revoke) and creating a repo (``/new``)."""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from ..._common.validation import validate_repo_id
from ...errors import HFValidationError
from ..api import _http as h
from ..domain import logins, sign_in_limits, views
from ..domain.accounts import AccountError, Principal, create_token, list_tokens, parse_duration
from ..domain.errors import RepoExists, Unauthorized, bad_request
from ..storage.db import Token
from ._page import page, redirect, render_page, web_router
from .session import WebForm, clear_session_cookie, require_csrf, set_session_cookie, viewer

router = web_router()


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only (never ``//other.host`` or a scheme)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target[:2000]
    return "/"


@router.get("/login")
def login_page(request: Request) -> Response:
    return page(request, "login.html", next=_safe_next(request.query_params.get("next")), error=None)


@router.post("/login")
def login(request: Request, form: WebForm) -> Response:
    v = require_csrf(request, form)
    name = str(form.get("username", "")).strip()
    service = h.hub(request)
    engine = service.sessions.kw["bind"]
    address = request.client.host if request.client else "unknown"

    def again(status: int, error: str) -> Response:
        return render_page(
            request, "login.html", status_code=status, v=v, next=_safe_next(form.get("next")), error=error,
            username=name[:96],
        )  # fmt: skip

    try:
        sign_in_limits.check(engine, name, address)  # before any password hashing
        with service.sessions() as db:
            with sign_in_limits.password_check_slot():
                user = logins.authenticate(db, name, str(form.get("password", "")))
            if user is not None:
                cookie = logins.open_session(db, user)
    except sign_in_limits.SignInRefused as refused:
        refusal = again(429, refused.reason)
        refusal.headers["Retry-After"] = str(refused.retry_after)
        return refusal
    if user is None:
        sign_in_limits.record_failure(engine, name, address)
        return again(401, "Wrong username or password.")
    sign_in_limits.record_success(engine, name, address)
    response = redirect(_safe_next(form.get("next")))
    set_session_cookie(request, response, cookie)
    return response


@router.post("/logout")
def logout(request: Request, form: WebForm) -> Response:
    v = require_csrf(request, form)
    if v.via == "session":
        with h.hub(request).sessions() as db:
            logins.close_session(db, request.cookies.get("modelhub_session", ""))
    response = redirect("/")
    clear_session_cookie(request, response)
    return response


def _signed_in(request: Request) -> Principal:
    v = viewer(request)
    if v.principal is None:
        raise Unauthorized("Sign in to see this page.")
    return v.principal


def _tokens_page(request: Request, created: str | None = None, error: str | None = None) -> Response:
    p = _signed_in(request)
    with h.hub(request).sessions() as db:
        tokens = list_tokens(db, p.name)
    return page(request, "tokens.html", tokens=tokens, created=created, error=error)


@router.get("/settings/tokens")
def tokens_page(request: Request) -> Response:
    return _tokens_page(request)


@router.post("/settings/tokens")
def tokens_create(request: Request, form: WebForm) -> Response:
    require_csrf(request, form)
    p = _signed_in(request)
    name = str(form.get("name", "")).strip()[:100] or None
    role = str(form.get("role", "read"))
    expires = str(form.get("expires", "")).strip()
    try:
        with h.hub(request).sessions() as db:
            value = create_token(
                db, p.name, role=role, name=name, expires_in=parse_duration(expires) if expires else None
            )
            db.commit()
    except AccountError as exc:
        return _tokens_page(request, error=str(exc))
    # shown once, in this answer only (never stored in clear, never in a URL)
    response = _tokens_page(request, created=value)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/settings/tokens/{token_id}/revoke")
def tokens_revoke(request: Request, form: WebForm, token_id: str) -> Response:
    require_csrf(request, form)
    p = _signed_in(request)
    if not token_id.isdigit() or len(token_id) > 18:
        raise bad_request(f"Invalid token id {token_id[:20]!r}.")
    with h.hub(request).sessions() as db:
        row = db.scalar(select(Token).where(Token.id == int(token_id), Token.user_id == p.user_id))
        if row is None:  # someone else's token looks exactly like a missing one
            raise bad_request(f"You have no token with id {token_id}.")
        db.delete(row)
        db.commit()
    return redirect("/settings/tokens")


@router.get("/new")
def new_repo_page(request: Request) -> Response:
    p = _signed_in(request)
    with h.hub(request).sessions() as db:
        owners = views.writable_namespaces(db, p)
    return page(request, "new_repo.html", owners=owners, error=None, form={})


@router.post("/new")
def new_repo(request: Request, form: WebForm) -> Response:
    v = require_csrf(request, form)
    p = _signed_in(request)
    service = h.hub(request)
    owner = str(form.get("owner", p.name))
    name = str(form.get("name", "")).strip()
    repo_type = str(form.get("type", "model"))
    if repo_type not in h.TYPE_TO_PREFIX:
        raise bad_request(f"Invalid repo type {repo_type[:20]!r}: model, dataset or space.")
    try:
        rid = validate_repo_id(f"{owner}/{name}")
        service.require_write(p, owner, rid)
        service.create_repo(p, repo_type, owner, name, form.get("visibility") == "private")
    except (HFValidationError, RepoExists) as exc:
        with service.sessions() as db:
            owners = views.writable_namespaces(db, p)
        message = f"{owner}/{name} already exists." if isinstance(exc, RepoExists) else str(exc)
        return render_page(
            request, "new_repo.html", status_code=400, v=v, owners=owners, error=message, form=form
        )
    return redirect("/" + h.TYPE_TO_PREFIX[repo_type] + quote(rid))
