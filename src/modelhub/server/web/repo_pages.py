"""Repo pages: the card, files (tree, blob, raw), safetensors tables, history (commits, commit diffs), settings.

URLs as on the Hub: ``/{ns}/{name}``, ``/datasets/{ns}/{name}``, ``.../tree/{rev}/{path}``, ``.../blob/{rev}/{path}``,
``.../commits/{rev}``, ``.../commit/{sha}``. A revision with slashes (``refs/pr/1``) is one percent-encoded
segment. Every page checks the read through the domain (``HubService.readable_repo``)."""

from __future__ import annotations

import csv
import functools
import io
import json
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response

from ..api import _http as h
from ..api.resolve import serve_blob
from ..domain import gating, repo_settings, views
from ..domain.accounts import Principal, can_write_namespace
from ..domain.errors import Unauthorized, entry_not_found
from ..domain.frontmatter import card_body
from ..domain.hub import HubService
from ..domain.safetensors_info import SafetensorsError, read_header, read_index
from ..storage.db import Repo
from . import render
from ._page import page, redirect, web_router
from .session import WebForm, require_csrf, viewer
from .snippets import mixin_class, snippets

router = web_router()
PER_PAGE = 50
MAX_CARD = 1024 * 1024
MAX_TEXT_VIEW = 1024 * 1024


class _ModelNamespace(Convertor[str]):
    """A model's namespace: any segment but ``datasets`` / ``spaces`` (so ``/datasets/a/b/...`` never reads as
    the model ``datasets/a``, whatever order the routes are tried in) and the API's own first segments (an unknown
    ``/api/...`` URL stays a JSON 404)."""

    regex = "(?!(?:datasets|spaces|api|lfs-upload|lfs-objects)/)[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("modelns", _ModelNamespace())
PREFIXES = ("/{prefix:typeprefix}/{namespace}/{name}", "/{namespace:modelns}/{name}")


def routes(
    suffix: str, methods: tuple[str, ...] = ("GET",)
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a page under both the model URL and the ``/datasets`` / ``/spaces`` one."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        for prefix in PREFIXES:
            router.add_api_route(prefix + suffix, fn, methods=list(methods))
        return fn

    return deco


@dataclass
class RepoCtx:
    """A repo the viewer may read, with what its page header needs."""

    service: HubService
    principal: Principal | None
    repo: Repo
    repo_type: str
    base: str  # its page URL path: /ns/name or /datasets/ns/name
    nav: views.RepoNav
    can_write: bool

    def template_context(self, **more: Any) -> dict[str, Any]:
        ctx = {"repo": self.repo, "base": self.base, "nav": self.nav, "can_write": self.can_write}
        return {**ctx, "files_hidden": not self.may_have_files, **more}

    @functools.cached_property
    def may_have_files(self) -> bool:
        """Whether the viewer may see file contents: a gated repo's are for its writers and the users whose access
        request was accepted (its card, file list and history stay visible, as on the Hub)."""
        return gating.may_download(self.service.sessions, self.principal, self.repo, self.repo.id)

    def require_files(self, request: Request) -> None:
        """GatedRepo (an error page saying how to ask) unless ``may_have_files`` (asked once per page)."""
        if not self.may_have_files:
            web_url = h.repo_web_url(request, self.repo_type, self.repo.repo_id)
            raise gating.refusal(self.principal, self.repo_type, self.repo.repo_id, web_url)


def open_repo(request: Request, namespace: str, name: str) -> RepoCtx:
    """The repo of a page URL (``prefix`` from the path: datasets / spaces, none for models), readable by the
    viewer, else RepoNotFound (the 404 page)."""
    prefix = request.path_params.get("prefix")
    repo_type = h.PLURAL_TO_TYPE[prefix] if prefix else "model"
    rid = h.repo_id_from(namespace, name)
    principal = viewer(request).principal
    service = h.hub(request)
    with service.sessions() as db:
        repo = service.readable_repo(db, principal, repo_type, rid)
        nav = views.repo_nav(db, repo)
    base = "/" + h.TYPE_TO_PREFIX[repo_type] + rid
    return RepoCtx(
        service, principal, repo, repo_type, base, nav, can_write_namespace(principal, repo.namespace)
    )


def signed_in_form(
    request: Request, form: dict[str, Any], namespace: str, name: str, action: str
) -> tuple[Principal, RepoCtx]:
    """A repo page's form POST: its CSRF token checked, the repo readable by the viewer, who must be signed in."""
    v = require_csrf(request, form)
    ctx = open_repo(request, namespace, name)
    if v.principal is None:
        raise Unauthorized(f"Sign in to {action}.")
    return v.principal, ctx


def _resolve(ctx: RepoCtx, revision: str) -> str:
    with ctx.service.sessions() as db:
        return ctx.service.resolve(db, ctx.repo, revision)


def _rev_label(rev: str, cid: str) -> str:
    return cid[:7] if rev == cid else rev


# --- the card ------------------------------------------------------------------------------------------------


@routes("")
def repo_page(request: Request, namespace: str, name: str) -> Response:
    return _card_page(request, namespace, name, "main")


@routes("/tree/{revision}")
def repo_tree_root(request: Request, namespace: str, name: str, revision: str) -> Response:
    return _files_page(request, namespace, name, revision, "")


def _card_page(request: Request, namespace: str, name: str, revision: str) -> Response:
    ctx = open_repo(request, namespace, name)
    cid = _resolve(ctx, revision)
    service = ctx.service
    with service.sessions() as db:
        overview = views.repo_overview(service, db, ctx.repo, cid)
    detail = overview.detail
    readme = detail.tree.get("README.md")
    card_html, model_class = None, None
    if readme is not None and readme.size <= MAX_CARD:
        key = ("card-html", readme.sha256, ctx.base, cid)
        cached = service.caches.derived.get(key)
        if cached is None:
            text = views.text_of(service, readme, MAX_CARD) or ""
            rev = quote(revision, safe="")
            body = card_body(text)
            html = render.render_card(
                body, link_base=f"{ctx.base}/blob/{rev}/", file_base=f"{ctx.base}/raw/{rev}/"
            )
            cached = (html, mixin_class(body))
            service.caches.derived.put(key, cached)
        card_html, model_class = cached
    snips = snippets(
        ctx.repo_type, ctx.repo.repo_id, detail.card, detail.tags, set(detail.tree), h.base_url(request),
        _architectures(service, detail.tree), model_class,
    )  # fmt: skip
    gate = None  # what the gate panel says: the viewer's request, if the files are hidden from it
    if not ctx.may_have_files:
        gate = gating.request_status(service.sessions, ctx.principal, ctx.repo.id) or "none"
    return page(
        request,
        "repo.html",
        **ctx.template_context(
            tab="card",
            gate=gate,
            rev=revision,
            commit=detail.commit,
            card=detail.card,
            badges=_badges(detail.card),
            card_html=card_html,
            snippets=snips,
            overview=overview,
            weights=_weights_file(detail.tree),
        ),
    )


def _architectures(service: HubService, tree: dict[str, Any]) -> list[str]:
    """``architectures`` of the repo's ``config.json`` (small, cached by its content), [] when there is none."""
    entry = tree.get("config.json")
    if entry is None or entry.size > 256 * 1024:
        return []
    key = ("architectures", entry.sha256)
    hit = service.caches.derived.get(key)
    if hit is None:
        try:
            config = json.loads(views.text_of(service, entry) or "{}")
        except ValueError:
            config = {}
        raw = config.get("architectures") if isinstance(config, dict) else None
        hit = [a for a in raw if isinstance(a, str)][:10] if isinstance(raw, list) else []
        service.caches.derived.put(key, hit)
    return hit


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, (str, int, float))][:20]
    return []


def _badges(card: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(kind, label, search filter) of each front matter fact shown as a badge (never the raw YAML)."""
    out: list[tuple[str, str, str]] = []
    for key, kind in (("pipeline_tag", "task"), ("library_name", "library")):
        for v in _as_list(card.get(key)):
            out.append((kind, v, v))
    for v in _as_list(card.get("license")):
        out.append(("license", v, f"license:{v}"))
    for v in _as_list(card.get("language")):
        out.append(("language", v, v))
    for v in _as_list(card.get("datasets")):
        out.append(("dataset", v, f"dataset:{v}"))
    for v in _as_list(card.get("base_model")):
        out.append(("base model", v, f"base_model:{v}"))
    shown = {label for _, label, _ in out}
    for v in _as_list(card.get("tags")):
        if v not in shown:
            out.append(("tag", v, v))
    return out


def _weights_file(tree: dict[str, Any]) -> str | None:
    for candidate in ("model.safetensors.index.json", "model.safetensors"):
        if candidate in tree:
            return candidate
    return next((p for p in sorted(tree) if p.endswith(".safetensors")), None)


# --- files ---------------------------------------------------------------------------------------------------


@routes("/tree/{revision}/{path:path}")
def repo_tree(request: Request, namespace: str, name: str, revision: str, path: str) -> Response:
    return _files_page(request, namespace, name, revision, path)


def _crumbs(path: str) -> list[tuple[str, str]]:
    parts = [p for p in path.split("/") if p]
    return [(p, "/".join(parts[: i + 1])) for i, p in enumerate(parts)]


def _files_page(request: Request, namespace: str, name: str, revision: str, raw_path: str) -> Response:
    ctx = open_repo(request, namespace, name)
    rev = h.revision_from(revision)
    path = h.path_from(raw_path).strip("/") if raw_path.strip("/") else ""
    cid = _resolve(ctx, rev)
    with ctx.service.sessions() as db:
        entries = views.folder_listing(ctx.service, db, cid, path)
        if entries is None:
            if path in ctx.service.commit_tree(db, cid):
                return redirect(f"{ctx.base}/blob/{quote(rev, safe='')}/{quote(path)}")
            raise entry_not_found(ctx.repo.repo_id, rev, path, cid)
        head = ctx.service.commit_row(db, cid)
    return page(
        request,
        "tree.html",
        **ctx.template_context(
            tab="files", rev=rev, rev_label=_rev_label(rev, cid), path=path, crumbs=_crumbs(path),
            entries=entries, head=head,
        ),
    )  # fmt: skip


@routes("/blob/{revision}/{path:path}")
def repo_blob(request: Request, namespace: str, name: str, revision: str, path: str) -> Response:
    ctx = open_repo(request, namespace, name)
    ctx.require_files(request)
    rev = h.revision_from(revision)
    rel = h.path_from(path)
    cid = _resolve(ctx, rev)
    service = ctx.service
    with service.sessions() as db:
        tree = service.commit_tree(db, cid)
        entry = tree.get(rel)
        if entry is None:
            raise entry_not_found(ctx.repo.repo_id, rev, rel, cid)
        last = views.last_changed(service, db, cid, {rel}).get(rel)
    view: dict[str, Any] = {"kind": "binary"}
    lower = rel.lower()
    if lower.endswith(".safetensors") or lower.endswith(".safetensors.index.json"):
        try:
            if lower.endswith(".json"):
                table = read_index(service.content, tree, rel, service.caches.derived)
            else:
                table = read_header(service.content, entry.sha256, entry.size, service.caches.derived)
            view = {"kind": "tensors", "table": table}
        except SafetensorsError as exc:
            view = {"kind": "binary", "problem": f"Not a readable safetensors file: {exc}."}
    else:
        text = views.text_of(service, entry, MAX_TEXT_VIEW)
        if text is not None:
            view = _text_view(rel, text)
    rev_q = quote(rev, safe="")
    raw_url, resolve_url = (f"{ctx.base}/{kind}/{rev_q}/{quote(rel)}" for kind in ("raw", "resolve"))
    # downloads go through ``resolve`` as on the Hub (and count as downloads); ``resolve`` reads tokens only, so a
    # private repo's browser download goes through ``raw``, which reads the session cookie
    download_url = f"{raw_url}?download=1" if ctx.repo.private else f"{resolve_url}?download=true"
    return page(
        request,
        "blob.html",
        **ctx.template_context(
            tab="files", rev=rev, rev_label=_rev_label(rev, cid), path=rel, crumbs=_crumbs(rel), entry=entry,
            view=view, last=last, raw_url=raw_url, resolve_url=resolve_url, download_url=download_url,
        ),
    )  # fmt: skip


def _text_view(path: str, text: str) -> dict[str, Any]:
    lower = path.lower()
    shown = text
    if lower.endswith(".json"):
        shown = render.pretty_json(text) or text
    view: dict[str, Any] = {"kind": "text", "lines": shown.count("\n") + 1, "plain": shown}
    view["html"] = render.highlight_file(path, shown)
    if lower.endswith(".csv") or lower.endswith(".tsv"):
        rows = list(
            csv.reader(io.StringIO(text[:200_000]), delimiter="\t" if lower.endswith(".tsv") else ",")
        )
        view["csv"] = rows[:201]
    if lower.endswith(".md"):
        view["markdown"] = render.render_card(card_body(text), link_base="", file_base="")
    return view


_INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml"}


@routes("/raw/{revision}/{path:path}")
def repo_raw(request: Request, namespace: str, name: str, revision: str, path: str) -> Response:
    """A file's bytes for the browser (signed-in sessions too, unlike ``resolve``, which reads tokens only):
    text as text/plain, images as images, everything else as a download; sandboxed, never run as a page."""
    ctx = open_repo(request, namespace, name)
    ctx.require_files(request)
    rev = h.revision_from(revision)
    rel = h.path_from(path)
    cid = _resolve(ctx, rev)
    entry = ctx.service.cached_commit_tree(cid).get(rel)
    if entry is None:
        raise entry_not_found(ctx.repo.repo_id, rev, rel, cid)
    filename = rel.rsplit("/", 1)[-1]
    guessed = mimetypes.guess_type(filename)[0] or ""
    text = views.text_of(ctx.service, entry, 256 * 1024) if guessed not in _INLINE_TYPES else None
    download = request.query_params.get("download") in ("1", "true")
    headers = {
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, max-age=0",
        "Content-Disposition": f"{'attachment' if download else 'inline'}; filename*=UTF-8''{quote(filename)}",
        "X-Repo-Commit": cid,
    }
    if text is not None:
        return Response(text.encode(), media_type="text/plain; charset=utf-8", headers=headers)
    response = serve_blob(ctx.service, entry.sha256, headers, filename)
    if guessed in _INLINE_TYPES and not download:
        response.headers["content-type"] = guessed
    return response


# --- history -------------------------------------------------------------------------------------------------


@routes("/commits/{revision}")
def repo_commits(request: Request, namespace: str, name: str, revision: str) -> Response:
    ctx = open_repo(request, namespace, name)
    rev = h.revision_from(revision)
    page_num = _page_number(request)
    cid = _resolve(ctx, rev)
    with ctx.service.sessions() as db:
        rows, total = views.history_page(ctx.service, db, ctx.repo, cid, page_num * PER_PAGE, PER_PAGE)
    return page(
        request,
        "commits.html",
        **ctx.template_context(
            tab="files", rev=rev, rev_label=_rev_label(rev, cid), commits=rows, total=total, page_num=page_num,
            pages=(total + PER_PAGE - 1) // PER_PAGE,
        ),
    )  # fmt: skip


def _page_number(request: Request) -> int:
    raw = request.query_params.get("p", "0")
    return min(int(raw), 1_000_000) if raw.isdigit() and len(raw) < 8 else 0


@routes("/commit/{sha}")
def repo_commit(request: Request, namespace: str, name: str, sha: str) -> Response:
    ctx = open_repo(request, namespace, name)
    cid = _resolve(ctx, h.revision_from(sha))
    service = ctx.service
    with service.sessions() as db:
        commit = service.commit_row(db, cid)
        assert commit is not None
        changes = views.commit_changes(service, db, commit)
    shown = 100 if ctx.may_have_files else 0  # a gated repo's diffs are file contents
    diffs = [(c, views.text_diff(service, c) if i < shown else None) for i, c in enumerate(changes)]
    return page(
        request,
        "commit.html",
        **ctx.template_context(tab="files", rev=cid, rev_label=cid[:7], commit=commit, diffs=diffs),
    )


@routes("/ask-access", methods=("POST",))
def repo_ask_access(request: Request, form: WebForm, namespace: str, name: str) -> Response:
    """The gate's form on the card page (the Hub's URL): file the viewer's access request (``auto``: accepted)."""
    p, ctx = signed_in_form(request, form, namespace, name, "ask for access to this repo's files")
    with ctx.service.sessions() as db:
        gating.ask(db, ctx.repo.id, ctx.repo.gated, p.user_id, {})
        db.commit()
    return redirect(ctx.base)


# --- settings ------------------------------------------------------------------------------------------------


@routes("/settings")
def repo_settings_page(request: Request, namespace: str, name: str) -> Response:
    ctx = open_repo(request, namespace, name)
    ctx.service.require_write(ctx.principal, ctx.repo.namespace, ctx.repo.repo_id)
    return page(request, "repo_settings.html", **ctx.template_context(tab="settings", rev="main"))


@routes("/settings/visibility", methods=("POST",))
def repo_visibility(request: Request, form: WebForm, namespace: str, name: str) -> Response:
    v = require_csrf(request, form)
    ctx = open_repo(request, namespace, name)
    private = form.get("visibility") == "private"
    repo_settings.set_visibility(ctx.service, v.principal, ctx.repo_type, ctx.repo.repo_id, private)
    return redirect(f"{ctx.base}/settings")


@routes("/settings/delete", methods=("POST",))
def repo_delete(request: Request, form: WebForm, namespace: str, name: str) -> Response:
    v = require_csrf(request, form)
    ctx = open_repo(request, namespace, name)
    repo_settings.delete_repo(
        ctx.service, v.principal, ctx.repo_type, ctx.repo.repo_id, str(form.get("confirm", ""))
    )
    return redirect(f"/{v.name}")
