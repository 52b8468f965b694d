"""Bounds on untrusted input that are not a plain byte count: JSON nesting, integers, counts.

Byte limits per route live in ``ServerSettings`` (enforced by ``app.LimitAndLogMiddleware``); everything here is
what a small body can still use to make the server do unbounded work or crash into a 500.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeGuard

from .errors import bad_request

MAX_JSON_DEPTH = (
    64  # far more than any Hub API body uses; the C parser itself stops near 1000 (RecursionError)
)
MAX_DB_INT = 2**31 - 1  # discussion numbers, page numbers: what an INTEGER column holds on every backend
MAX_OFFSET = 10**9  # pagination offsets
OID = re.compile(r"^[0-9a-f]{64}$")  # an object id (SHA-256, lowercase hex)


def json_depth_ok(obj: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``obj`` (parsed JSON) nests at most ``limit`` levels; iterative, so it cannot overflow itself."""
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return False
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return True


def loads(raw: bytes | bytearray | str, what: str = "The request body") -> Any:
    """``json.loads`` for untrusted input: 400 (not a 500) for invalid JSON or nesting deeper than the limit."""
    try:
        obj = json.loads(raw)
    except RecursionError as exc:
        raise bad_request(f"{what} nests JSON more than {MAX_JSON_DEPTH} levels deep.") from exc
    except ValueError as exc:
        raise bad_request(f"{what} is not valid JSON: {exc}.") from exc
    if not json_depth_ok(obj):
        raise bad_request(f"{what} nests JSON more than {MAX_JSON_DEPTH} levels deep.")
    return obj


def is_int(value: Any, lo: int, hi: int) -> TypeGuard[int]:
    """A JSON integer (not a bool) within ``[lo, hi]``."""
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi


def int_param(raw: str | None, name: str, default: int, lo: int = 0, hi: int = MAX_DB_INT) -> int:
    """A non-negative decimal integer from a query or path parameter, range-checked; 400 otherwise."""
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or len(raw) > 19 or not lo <= int(raw) <= hi:
        raise bad_request(f"Invalid {name} {raw[:40]!r}: expected an integer between {lo} and {hi}.")
    return int(raw)
