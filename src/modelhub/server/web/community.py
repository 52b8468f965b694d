"""Discussions and pull requests: ``/{repo}/discussions`` (list), ``/{repo}/discussions/{num}`` (a thread: its
comments, and for a PR its commits, changed files and diffs), and the forms that comment, close / reopen and
merge; the buttons show, and the posts succeed, only for those the domain's rules allow."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from ..domain import discussions as disc_rules
from ..domain import views
from ..domain.accounts import Principal
from ..domain.discussions import find_discussions, get_discussion, merge_pr, open_discussion
from ..domain.errors import Forbidden, Unauthorized, bad_request
from ..storage.db import Discussion, Repo
from . import render
from ._page import page, redirect
from .repo_pages import RepoCtx, open_repo, routes, signed_in_form
from .session import WebForm


def _num(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 9:
        raise bad_request(f"Invalid discussion number {raw[:20]!r}.")
    return int(raw)


@routes("/discussions")
def discussions_page(request: Request, namespace: str, name: str) -> Response:
    ctx = open_repo(request, namespace, name)
    q = request.query_params
    kind = str(q.get("type")) if q.get("type") in ("pull_request", "discussion") else "all"
    status = str(q.get("status")) if q.get("status") in ("open", "closed") else "all"
    page_raw = q.get("p", "0")
    page_num = int(page_raw) if page_raw.isdigit() and len(page_raw) < 7 else 0
    with ctx.service.sessions() as db:
        total, rows = find_discussions(db, ctx.repo, kind=kind, status=status, author=None, page=page_num)
    return page(
        request,
        "discussions.html",
        **ctx.template_context(
            tab="community", rev="main", discussions=rows, total=total, kind=kind, status=status,
            page_num=page_num, pages=(total + 49) // 50,
        ),
    )  # fmt: skip


@routes("/discussions/new")
def new_discussion_page(request: Request, namespace: str, name: str) -> Response:
    ctx = open_repo(request, namespace, name)
    if ctx.principal is None:
        raise Unauthorized("Sign in to open a discussion.")
    return page(request, "discussion_new.html", **ctx.template_context(tab="community", rev="main"))


@routes("/discussions/new", methods=("POST",))
def create_discussion(request: Request, form: WebForm, namespace: str, name: str) -> Response:
    p, ctx = signed_in_form(request, form, namespace, name, "open a discussion")
    title = str(form.get("title", "")).strip()
    if not title or len(title) > 500:
        raise bad_request("A discussion needs a title (at most 500 characters).")
    with ctx.service.sessions() as db:
        repo = ctx.service.readable_repo(db, p, ctx.repo_type, ctx.repo.repo_id)
        body = str(form.get("description", ""))[: disc_rules.MAX_COMMENT]
        disc = open_discussion(db, repo, author=p.name, title=title, description=body, is_pr=False, head=None)
        db.commit()
        num = disc.num
    return redirect(f"{ctx.base}/discussions/{num}")


def _events(db: Any, disc: Discussion) -> list[dict[str, Any]]:
    out = []
    for ev in disc_rules.events_of(db, disc):
        data = json.loads(ev.data_json or "{}")
        item: dict[str, Any] = {"type": ev.type, "author": ev.author, "at": ev.created_at, "data": data}
        if ev.type == "comment":
            raw = str((data.get("latest") or {}).get("raw", ""))
            item["html"] = render.render_card(raw, link_base="", file_base="")
        out.append(item)
    return out


@routes("/discussions/{num}")
def discussion_page(request: Request, namespace: str, name: str, num: str) -> Response:
    ctx = open_repo(request, namespace, name)
    n = _num(num)
    service = ctx.service
    with service.sessions() as db:
        disc = get_discussion(db, ctx.repo, n)
        events = _events(db, disc)
        pr = None
        if disc.is_pr:
            oids = [e["data"].get("oid") for e in events if e["type"] == "commit" and e["data"].get("oid")]
            pr = views.pull_request_view(service, db, ctx.repo, disc, [str(o) for o in oids])
    shown = 50 if ctx.may_have_files else 0  # a gated repo's diffs are file contents
    diffs = (
        [(c, views.text_diff(service, c) if i < shown else None) for i, c in enumerate(pr.changes)]
        if pr
        else []
    )
    p = ctx.principal
    return page(
        request,
        "discussion.html",
        **ctx.template_context(
            tab="community", rev=f"refs/pr/{n}" if disc.is_pr else "main", disc=disc, events=events, pr=pr,
            diffs=diffs,
            may_comment=disc_rules.can_comment(p, ctx.repo),
            may_status=disc_rules.can_change_status(p, ctx.repo, disc),
            may_merge=disc.is_pr and disc.status in ("open", "draft") and disc_rules.can_merge(p, ctx.repo),
        ),
    )  # fmt: skip


def _thread(
    request: Request, form: dict[str, Any], namespace: str, name: str, num: str
) -> tuple[Principal, RepoCtx, int]:
    p, ctx = signed_in_form(request, form, namespace, name, "take part in discussions")
    return p, ctx, _num(num)


def _act(
    request: Request,
    form: dict[str, Any],
    where: tuple[str, str, str],
    allowed: Callable[[Principal | None, Repo, Discussion], bool],
    refusal: str,
    act: Callable[[Session, Discussion, str], Any],
    anchor: str = "",
) -> Response:
    """A form that changes a thread: CSRF and sign-in checked, the domain rule ``allowed`` asked, then ``act``."""
    p, ctx, n = _thread(request, form, *where)
    with ctx.service.sessions() as db:
        disc = get_discussion(db, ctx.repo, n)
        if not allowed(p, ctx.repo, disc):
            raise Forbidden(refusal)
        act(db, disc, p.name)
    return redirect(f"{ctx.base}/discussions/{n}{anchor}")


@routes("/discussions/{num}/comment", methods=("POST",))
def post_comment(request: Request, form: WebForm, namespace: str, name: str, num: str) -> Response:
    text = str(form.get("comment", ""))
    return _act(
        request, form, (namespace, name, num), lambda p, repo, _d: disc_rules.can_comment(p, repo),
        "You may not comment here.", lambda db, disc, me: disc_rules.comment(db, disc, me, text), "#bottom",
    )  # fmt: skip


@routes("/discussions/{num}/status", methods=("POST",))
def post_status(request: Request, form: WebForm, namespace: str, name: str, num: str) -> Response:
    status = str(form.get("status", ""))
    return _act(
        request, form, (namespace, name, num), disc_rules.can_change_status,
        "Only the author or a writer of the repo may close or reopen this.",
        lambda db, disc, me: disc_rules.set_status(db, disc, me, status),
    )  # fmt: skip


@routes("/discussions/{num}/merge", methods=("POST",))
def post_merge(request: Request, form: WebForm, namespace: str, name: str, num: str) -> Response:
    p, ctx, n = _thread(request, form, namespace, name, num)
    with ctx.service.sessions() as db:
        repo = ctx.service.writable_repo(db, p, ctx.repo_type, ctx.repo.repo_id)
        disc = get_discussion(db, repo, n)
        if not disc.is_pr or disc.status not in ("open", "draft"):
            raise bad_request(f"#{n} is not an open pull request.")
    merge_pr(ctx.service, repo, disc, p.name, str(form.get("comment") or "") or None)
    return redirect(f"{ctx.base}/discussions/{n}")
