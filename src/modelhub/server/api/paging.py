"""Pagination cursors: opaque to clients (``Link: <...>; rel="next"`` as the Hub sends), an offset and, for tree
listings, the commit the first page was read from (checked against the repo by the caller)."""

from __future__ import annotations

import base64

from . import limits
from .errors import bad_request


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
