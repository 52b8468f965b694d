"""Filtering repo paths with allow / ignore / delete patterns, the way the Hugging Face ecosystem does.

Shell-style ``fnmatch`` matching, case-sensitive, where ``*`` also matches ``/``; a pattern ending in ``/`` means
"everything under that folder"; ``\\`` is normalised to ``/`` in both paths and patterns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from fnmatch import fnmatchcase
from typing import TypeVar

T = TypeVar("T")


def normalize_patterns(patterns: str | Iterable[str] | None) -> list[str] | None:
    """None stays None (no filter); a single string becomes a one-item list; folder patterns get ``*``."""
    if patterns is None:
        return None
    if isinstance(patterns, str):
        patterns = [patterns]
    result = []
    for pattern in patterns:
        if not isinstance(pattern, str):
            raise TypeError(f"Patterns must be strings, got {pattern!r} ({type(pattern).__name__}).")
        pattern = pattern.replace("\\", "/")
        if pattern.endswith("/"):
            pattern += "*"
        result.append(pattern)
    return result


def matches_any(path: str, patterns: list[str]) -> bool:
    path = path.replace("\\", "/")
    return any(fnmatchcase(path, pattern) for pattern in patterns)


def filter_paths(
    items: Iterable[T],
    *,
    allow_patterns: str | Iterable[str] | None = None,
    ignore_patterns: str | Iterable[str] | None = None,
    key: Callable[[T], str] | None = None,
) -> list[T]:
    """Keep the items whose path matches one ``allow_patterns`` (all if None) and no ``ignore_patterns``."""
    allow = normalize_patterns(allow_patterns)
    ignore = normalize_patterns(ignore_patterns)
    kept = []
    for item in items:
        path = key(item) if key is not None else item
        if not isinstance(path, str):
            raise TypeError(f"Cannot filter {item!r}: give a `key` that returns its path.")
        if allow is not None and not matches_any(path, allow):
            continue
        if ignore is not None and matches_any(path, ignore):
            continue
        kept.append(item)
    return kept
