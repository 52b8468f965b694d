"""``.gitignore`` matching for preupload's ``shouldIgnore`` (the Hub ignores files its .gitignore names).

The rules are git's, as implemented by `pathspec <https://pypi.org/project/pathspec/>`_ (``GitIgnoreSpec``):
comments, ``!`` negation (last match wins), trailing ``/`` (folders only), anchoring, ``*`` / ``?`` / ``[...]``
within a segment and ``**`` across segments.

Bounds, because the text comes from the request (``gitIgnore``) or from the repo:

- at most ``MAX_BYTES`` (64 KiB) of text and ``MAX_PATTERNS`` (2,000) patterns. ``matcher(text)`` raises
  ``GitignoreTooLarge`` past either (preupload answers 400 for an uploaded .gitignore); with ``strict=False``
  (a .gitignore already in the repo) only the complete lines of the first 64 KiB and the first 2,000 patterns are
  used, the rest is ignored.
- paths longer than ``MAX_PATH`` (4,096 characters, git's ``PATH_MAX``) are never reported as ignored.
- matching costs about (number of patterns) x (length of the path) steps: one matcher does at most ``MAX_WORK``
  (2**26, about a second of CPU) such units, then raises ``GitignoreTooLarge`` (preupload answers 400). That is
  2,000 patterns against 256 paths of 130 characters, far more than a real .gitignore and preupload batch need.
- linear-time matching. pathspec compiles every ``*`` to ``[^/]*`` and every ``**`` to ``.+``: Python's
  backtracking ``re`` then needs time polynomial in the name's length, with the number of wildcards as exponent
  (``*******b`` against 100 ``a`` characters: over 20 s). ``_SafePattern`` hands pathspec the same patterns but
  hardens their regular expressions without changing what they match: within a segment every ``*`` but the last
  matches up to the *first* place where the next fixed-width piece fits, and across segments every ``**`` but the
  last skips up to the first place where the next run of segments fits; both choices are then final (atomic
  groups). Taking the earliest fit is always correct when a wildcard that can absorb anything follows (the usual
  greedy glob argument), and the last wildcard keeps pathspec's own (greedy) search, so pathspec's directory
  mark, hence its "last match wins" priorities, stay the same. One deliberate difference from pathspec: a negated
  class ``[!x]`` never matches ``/`` (as in git, where no wildcard crosses a ``/``).
"""

from __future__ import annotations

import functools
import itertools
import sys
from collections.abc import Callable
from typing import AnyStr, Literal

from pathspec import GitIgnoreSpec
from pathspec.patterns.gitignore.base import GitIgnorePatternError
from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern

MAX_BYTES = 64 * 1024
MAX_PATTERNS = 2_000
MAX_PATH = 4_096
MAX_WORK = 2**26

_STAR = "[^/]*"
_LEAD = "^(?:.+/)?"  # pathspec's leading "**/" (also implied before a pattern without "/")
_INNER = "(?:/.+)?"  # pathspec's "/**/" between segments
_names = itertools.count()


class GitignoreTooLarge(ValueError):
    """A .gitignore past ``MAX_BYTES`` or ``MAX_PATTERNS`` (strict mode), or matching past ``MAX_WORK``."""


def _atomic(rx: str) -> str:
    """``rx`` matched once, at the first place the engine finds, and never retried."""
    if sys.version_info >= (3, 11):
        return f"(?>{rx})"
    name = f"_a{next(_names)}"  # Python 3.10: a lookahead is atomic, the backreference consumes what it saw
    return f"(?=(?P<{name}>{rx}))(?P={name})"


def _atoms(glob: str) -> list[str] | None:
    """``glob`` cut as pathspec reads it: ``*`` or one fixed-width atom (a character, an escape, ``?``, a bracket
    expression) each; None for what pathspec rejects itself (a trailing backslash, an unclosed bracket)."""
    out: list[str] = []
    i, end = 0, len(glob)
    while i < end:
        c = glob[i]
        if c == "\\":
            if i + 1 == end:
                return None
            out.append(glob[i : i + 2])
            i += 2
        elif c == "[":
            j = i + 1
            if j < end and glob[j] in "!^":
                j += 1
            if j < end and glob[j] == "]":
                j += 1
            while j < end and glob[j] != "]":
                j += 1
            if j == end:
                return None
            out.append(glob[i : j + 1])
            i = j + 1
        else:
            out.append(c)
            i += 1
    return out


class _SafePattern(GitIgnoreSpecPattern):
    """pathspec's gitignore pattern with the regular expression hardened (see the module docstring)."""

    __slots__ = ()

    @staticmethod
    def _translate_segment_glob(pattern: str, range_error: Literal["literal", "raise"]) -> str:
        # raises for what pathspec rejects, like pathspec does
        plain = GitIgnoreSpecPattern._translate_segment_glob(pattern, range_error)
        atoms = _atoms(pattern)
        if atoms is None:
            return plain
        parts = [GitIgnoreSpecPattern._translate_segment_glob(a, range_error) for a in atoms]
        if "".join(parts) != plain:  # not cut as pathspec reads it: keep pathspec's own regex
            return plain
        negated = [a.startswith(("[!", "[^")) for a in atoms]
        stars = atoms.count("*")
        if stars <= 1 and not any(negated):
            return plain  # one wildcard cannot backtrack more than once per position
        chunks: list[str] = [""]
        for atom, rx, neg in zip(atoms, parts, negated, strict=True):
            if atom == "*":
                chunks.append("")
            else:
                chunks[-1] += ("(?!/)" + rx) if neg else rx
        out = chunks[0]
        for chunk in chunks[1:-1]:
            if chunk:  # "**" inside a segment is "*"
                out += _atomic(_STAR + "?" + chunk)
        if len(chunks) > 1:
            out += _STAR + chunks[-1]
        return out

    @classmethod
    def pattern_to_regex(cls, pattern: AnyStr) -> tuple[AnyStr | None, bool | None]:
        regex, include = super().pattern_to_regex(pattern)
        if isinstance(regex, str):
            regex = _harden_double_stars(regex)
        return regex, include


def _harden_double_stars(regex: str) -> str:
    """Every cross-segment ``**`` but the last made atomic and lazy (the runs of segments between them are fixed
    length and end at a ``/``, so their first fit is the earliest)."""
    lead = regex.startswith(_LEAD)
    pieces = regex[len(_LEAD) :].split(_INNER) if lead else regex.split(_INNER)
    if len(pieces) - 1 + lead <= 1:
        return regex
    # without a leading "**", the first piece starts with "^" and is fixed
    out = "^" + _atomic("(?:.+?/)??" + pieces[0] + "(?=/)") if lead else pieces[0]
    for piece in pieces[1:-1]:
        out += _atomic("(?:/.+?)??" + piece + "(?=/)")
    return out + _INNER + pieces[-1]


def _bounded_lines(text: str, strict: bool) -> list[str]:
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        if strict:
            raise GitignoreTooLarge(
                f"The .gitignore is {size} bytes: at most {MAX_BYTES} bytes (64 KiB) are supported."
            )
        head = text.encode("utf-8", "surrogatepass")[:MAX_BYTES]
        text = head[: head.rfind(b"\n") + 1].decode("utf-8", "replace")  # complete lines only
    lines = []
    count = 0
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            count += 1
            if count > MAX_PATTERNS:
                if strict:
                    raise GitignoreTooLarge(
                        f"The .gitignore has more than {MAX_PATTERNS} patterns: at most {MAX_PATTERNS} are supported."
                    )
                break
        lines.append(line)
    return lines


@functools.lru_cache(maxsize=8)
def _compiled(text: str, strict: bool) -> GitIgnoreSpec:
    patterns = []
    for line in _bounded_lines(text, strict):
        try:
            pattern = _SafePattern(line)
        except GitIgnorePatternError:
            continue  # pathspec rejects it (e.g. a trailing backslash): git ignores such a line too
        if pattern.include is not None:
            patterns.append(pattern)
    return GitIgnoreSpec(patterns, backend="simple")


def matcher(text: str, *, strict: bool = True) -> Callable[[str], bool]:
    """``ignored(path)`` for the rules in ``text`` (the content of a .gitignore).

    Raises ``GitignoreTooLarge`` for more than ``MAX_BYTES`` of text or ``MAX_PATTERNS`` patterns; with
    ``strict=False`` only the first ``MAX_BYTES`` (complete lines) and ``MAX_PATTERNS`` patterns are used.
    ``ignored`` raises ``GitignoreTooLarge`` once its calls together pass ``MAX_WORK``.
    """
    spec = _compiled(text, strict)
    count = len(spec.patterns)
    work = 0

    def ignored(path: str) -> bool:
        nonlocal work
        if not count or len(path) > MAX_PATH:
            return False
        work += count * (len(path) + 1)
        if work > MAX_WORK:
            raise GitignoreTooLarge(
                f"Checking these paths against the .gitignore's {count} patterns is more work than one request "
                "may do: send fewer files per preupload request or use fewer patterns."
            )
        return spec.match_file(path)

    return ignored
