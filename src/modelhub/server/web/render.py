"""Turning data into HTML: the Jinja2 environment (autoescaped), model cards (markdown-it-py, then the nh3
sanitizer: raw HTML in a card is kept only as inert markup), and syntax highlighting (Pygments, CSS classes)."""

from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import nh3
from jinja2 import Environment, PackageLoader, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.util import ClassNotFound

MAX_HIGHLIGHT = 512 * 1024  # bigger texts are shown plain (highlighting cost grows with the text)

# What a card may contain after sanitizing: document markup, no scripts, styles, forms, frames or event handlers.
_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt", "em", "h1", "h2",
    "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "ol", "p", "picture", "pre", "q", "s",
    "samp", "small", "source", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th",
    "thead", "tr", "u", "ul",
}  # fmt: skip
_ATTRS = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "source": {"srcset", "media", "type"},
    "td": {"align", "colspan", "rowspan"},
    "th": {"align", "colspan", "rowspan"},
    "span": {"class"},
    "code": {"class"},
    "div": {"class", "align"},
    "p": {"align"},
    "h1": {"align"},
    "h2": {"align"},
    "h3": {"align"},
    "ol": {"start"},
}
_SCHEMES = {"http", "https", "mailto"}


def _highlight_fence(code: str, lang: str, _attrs: Any) -> str:
    try:
        lexer = get_lexer_by_name(lang) if lang else None
    except ClassNotFound:
        lexer = None
    if lexer is None or len(code) > MAX_HIGHLIGHT:
        return ""  # markdown-it escapes and wraps it itself
    return f'<pre><code class="hl">{highlight(code, lexer, HtmlFormatter(nowrap=True))}</code></pre>'


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    # html=True hands raw HTML to the sanitizer (which keeps what is safe) instead of showing it escaped
    md = MarkdownIt("commonmark", {"html": True, "highlight": _highlight_fence})
    md.enable(["table", "strikethrough"])
    return md


def render_card(text: str, *, link_base: str, file_base: str) -> Markup:
    """Markdown of a card -> sanitized HTML. Relative links point into the repo: images at ``file_base`` (the
    resolve URL of the revision), other links at ``link_base`` (its blob pages); ``javascript:`` and every other
    scheme than http(s)/mailto are dropped, as are all scripts, styles and event handlers."""

    def rewrite(tag: str, attr: str, value: str) -> str | None:
        if attr not in ("href", "src"):
            return value
        parts = urlsplit(value)
        if parts.scheme or value.startswith(("//", "#")):
            return value  # nh3 drops the schemes it does not allow
        base = file_base if attr == "src" else link_base
        return urljoin(base, quote(value, safe="/#?&=%.-_~"))

    html = _markdown().render(text)
    return Markup(
        nh3.clean(
            html,
            tags=_TAGS,
            attributes=_ATTRS,
            url_schemes=_SCHEMES,
            attribute_filter=rewrite,
            link_rel="noopener noreferrer nofollow",
            strip_comments=True,
        )
    )


def highlight_file(path: str, text: str) -> Markup | None:
    """Syntax-highlighted lines of a text file (a Markup of ``<span>``s), None when no lexer fits or the text is
    too big to highlight."""
    if len(text) > MAX_HIGHLIGHT:
        return None
    try:
        lexer = get_lexer_for_filename(path.rsplit("/", 1)[-1], stripnl=False)
    except ClassNotFound:
        return None
    return Markup(highlight(text, lexer, HtmlFormatter(nowrap=True)))


def pretty_json(text: str) -> str | None:
    """``config.json`` and friends re-indented for reading; None if it is not JSON."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return None


def pygments_css() -> str:
    return str(HtmlFormatter(style="friendly").get_style_defs(".hl"))


# --- filters for the templates -------------------------------------------------------------------------------


def filesize(n: int | None) -> str:
    if n is None:
        return ""
    size = float(n)
    for unit in ("Bytes", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{int(size)} {unit}" if unit == "Bytes" else f"{size:.1f} {unit}".replace(".0 ", " ")
        size /= 1000
    return str(n)  # pragma: no cover


def count(n: int) -> str:
    """Parameter counts as the Hub prints them: 1.2B, 350M, 12.5k."""
    for div, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:.1f}".rstrip("0").rstrip(".") + suffix
    return str(n)


def ago(ts: dt.datetime | None) -> str:
    if ts is None:
        return ""
    seconds = (dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - ts).total_seconds()
    for span, unit in (
        (86400 * 365, "year"),
        (86400 * 30, "month"),
        (86400, "day"),
        (3600, "hour"),
        (60, "minute"),
    ):
        if seconds >= span:
            k = int(seconds // span)
            return f"{k} {unit}{'s' if k > 1 else ''} ago"
    return "just now"


def isodate(ts: dt.datetime | None) -> str:
    return ts.strftime("%Y-%m-%d %H:%M UTC") if ts is not None else ""


def urlpath(value: str) -> str:
    """A repo path or revision for a URL: each segment percent-encoded, slashes kept."""
    return quote(value, safe="/")


def urlseg(value: str) -> str:
    """One URL segment (a revision such as ``refs/pr/1`` encodes its slashes, as the Hub's URLs do)."""
    return quote(value, safe="")


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("modelhub.server.web", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        filesize=filesize, count=count, ago=ago, isodate=isodate, urlpath=urlpath, urlseg=urlseg
    )
    return env
