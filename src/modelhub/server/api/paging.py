"""Pagination cursors: opaque to clients (``Link: <...>; rel="next"`` as the Hub sends), an offset and, for tree
listings, the commit the first page was read from (checked against the repo by the caller)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlencode

from starlette.requests import Request

from . import _http as h
from . import limits
from .errors import bad_request

T = TypeVar("T")


def encode_cursor(offset: int, commit: str = "") -> str:
    return base64.urlsafe_b64encode(f"{offset}:{commit}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    return decode_cursor_full(cursor)[0]


def decode_cursor_full(cursor: str | None) -> tuple[int, str]:
    if not cursor:
        return 0, ""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        off, _, commit = raw.partition(":")
        offset = int(off)
        if not 0 <= offset <= limits.MAX_OFFSET:
            raise ValueError(off)
        return offset, commit
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"Invalid pagination cursor {cursor!r}: use the Link header as given.") from exc


def paged(request: Request, fetch: Callable[[int, int], list[T]]) -> tuple[list[T], dict[str, str]]:
    """The page of ``fetch(offset, limit)`` at the request's ``cursor`` (the server's page size), and the ``Link``
    header to the next one when there is more (the official client follows it)."""
    size = h.settings(request).page_size
    offset = decode_cursor(request.query_params.get("cursor"))
    got = fetch(offset, size + 1)  # one more than a page: is there a next one?
    if len(got) <= size:
        return got, {}
    return got[:size], next_page(request, request.url.path, encode_cursor(offset + size))


def next_page(request: Request, path: str, cursor: str) -> dict[str, str]:
    """The ``Link`` header to the next page: ``path`` with the request's query, its ``cursor`` replaced."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    params.append(("cursor", cursor))
    return {"Link": f'<{h.base_url(request)}{path}?{urlencode(params)}>; rel="next"'}
