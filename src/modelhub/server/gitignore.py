"""A small ``.gitignore`` matcher, for preupload's ``shouldIgnore`` (the Hub ignores files its .gitignore names).

Supported: comments, blank lines, ``!`` negation (last match wins), trailing ``/`` (folders only), patterns with
a ``/`` anchored at the repo root, ``*`` / ``?`` within a path segment and ``**`` across segments. A pattern that
matches a folder ignores everything below it.
"""

from __future__ import annotations

import re
from collections.abc import Callable


def _translate(pattern: str) -> str:
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)


def matcher(text: str) -> Callable[[str], bool]:
    """``ignored(path)`` for the rules in ``text`` (the content of a .gitignore)."""
    rules: list[tuple[re.Pattern[str], bool]] = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        if negate:
            line = line[1:]
        folder_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            continue
        anchored = "/" in line
        body = _translate(line.lstrip("/"))
        prefix = "^" if anchored else "^(?:.*/)?"
        suffix = "/.*$" if folder_only else "(?:/.*)?$"
        rules.append((re.compile(prefix + body + suffix), negate))

    def ignored(path: str) -> bool:
        result = False
        for rx, negate in rules:
            if rx.match(path):
                result = not negate
        return result

    return ignored
