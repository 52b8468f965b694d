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


_SURROGATE = re.compile("[\ud800-\udfff]")


def has_lone_surrogate(obj: Any) -> bool:
    """Whether a string of ``obj`` (parsed JSON, keys included) holds a lone UTF-16 surrogate. JSON's ``\\ud800``
    escapes make them (a valid pair becomes one character); they are not text: encoding one to UTF-8 (for the
    database, a header, a file) raises."""
    stack = [obj]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if not node.isascii() and _SURROGATE.search(node):
                return True
        elif isinstance(node, dict):
            stack.extend(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def loads(raw: bytes | bytearray | str, what: str = "The request body") -> Any:
    """``json.loads`` for untrusted input: 400 (not a 500) for invalid JSON, nesting deeper than the limit or
    strings that are not text (lone surrogates)."""
    try:
        obj = json.loads(raw)
    except RecursionError as exc:
        raise bad_request(f"{what} nests JSON more than {MAX_JSON_DEPTH} levels deep.") from exc
    except ValueError as exc:
        raise bad_request(f"{what} is not valid JSON: {exc}.") from exc
    if not json_depth_ok(obj):
        raise bad_request(f"{what} nests JSON more than {MAX_JSON_DEPTH} levels deep.")
    if has_lone_surrogate(obj):
        raise bad_request(
            f"{what} is not valid text: a string holds an unpaired surrogate (\\ud800-\\udfff)."
        )
    return obj


def is_int(value: Any, lo: int, hi: int) -> TypeGuard[int]:
    """A JSON integer (not a bool) within ``[lo, hi]``."""
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi


def int_param(raw: str | None, name: str, default: int, lo: int = 0, hi: int = MAX_DB_INT) -> int:
    """A non-negative decimal integer from a query or path parameter, range-checked; 400 otherwise."""
    if raw is None or raw == "":
        return default
    # isascii: str.isdigit() is also true for digits int() refuses ("²", a 500 before) or reads ("٣" is 3)
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or not lo <= int(raw) <= hi:
        raise bad_request(f"Invalid {name} {raw[:40]!r}: expected an integer between {lo} and {hi}.")
    return int(raw)
