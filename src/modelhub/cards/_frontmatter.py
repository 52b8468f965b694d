"""The YAML front matter of a README.md: found in one linear scan, parsed with the safe loader.

The block is what the Hub (and the official client's ``REGEX_YAML_BLOCK``) takes as metadata: optional leading
white space, a ``---`` line ended by CRLF, CR or LF, the YAML, then the first later line that is ``---`` (spaces or
tabs may follow) ended by CRLF, LF or the end of the text. That regular expression needs 100-200 ms on some 1 MB
inputs (an opening fence and no closing one, many near-miss fences); this scan visits each character a bounded
number of times whatever the text: ``str.lstrip`` for the opening, then a regular expression that cannot backtrack
for the closing fence (``_CLOSING``). A 1 MB hostile card takes a few milliseconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import CardMetadataError

# A line break, `---`, blanks, then CRLF, LF or the end. Linear: a candidate fails at its first mismatch, and
# the blanks after a fence are scanned for that fence only.
_CLOSING = re.compile(r"[\r\n]---[ \t]*+(?:\r\n|\n|\Z)")


@dataclass(frozen=True)
class FrontMatter:
    """``text[:yaml_start]`` is the opening fence, ``text[yaml_start:yaml_end]`` the YAML, ``text[end:]`` the body."""

    yaml_start: int
    yaml_end: int
    end: int


def find_front_matter(text: str) -> FrontMatter | None:
    """Where the metadata block of ``text`` is, or None when the text has none."""
    start = len(text) - len(text.lstrip())
    if not text.startswith("---", start):
        return None
    after = start + 3
    # the regex tries CRLF before CR for the opening line break, so a CR alone is the fallback
    candidates = [after + 2] if text.startswith("\r\n", after) else []
    if text.startswith(("\r", "\n"), after):
        candidates.append(after + 1)
    for yaml_start in candidates:
        found = _closing(text, yaml_start)
        if found is not None:
            return FrontMatter(yaml_start, *found)
    return None


def _closing(text: str, yaml_start: int) -> tuple[int, int] | None:
    """(end of the YAML, end of the closing fence line) for the first closing fence at or after ``yaml_start``."""
    match = _CLOSING.search(text, yaml_start)
    if match is None:
        return None
    brk = match.start()  # the line break before `---`; with the CR of a CRLF before it, the YAML ends there
    if text[brk] == "\n" and brk - 1 >= yaml_start and text[brk - 1] == "\r":
        brk -= 1
    return brk, match.end()


def line_ending(text: str) -> str | None:
    """The text's line ending, decided like the Hub does: CRLF if every break is one, else the majority."""
    cr, lf = text.count("\r"), text.count("\n")
    if cr + lf == 0:
        return None
    crlf = text.count("\r\n")
    if crlf == cr == lf:
        return "\r\n"
    return "\r" if cr > lf else "\n"


def _loader() -> Any:
    import yaml

    return getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader  # libyaml when PyYAML has it: ~8x faster


def load_metadata(yaml_text: str, line_offset: int = 1) -> dict[str, Any]:
    """The mapping a YAML block holds ({} when empty); CardMetadataError says what is wrong and where.

    ``line_offset`` is the line of the card the block starts at (for the error message).
    """
    import yaml

    try:
        data = yaml.load(yaml_text, Loader=_loader())  # a safe loader: CSafeLoader or SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + line_offset}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise CardMetadataError(
            f"Invalid YAML in the card's metadata block{where}: {problem}. "
            "Fix the YAML between the two '---' lines at the top of the card."
        ) from exc
    except RecursionError as exc:
        raise CardMetadataError("The card's metadata block is nested too deeply to be read.") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise CardMetadataError(
            f"The card's metadata block must be a YAML mapping (key: value lines), not a "
            f"{type(data).__name__}: {str(data)[:80]!r}."
        )
    return data


def dump_metadata(data: dict[str, Any], line_break: str | None = None) -> str:
    """YAML text for a metadata mapping: keys in the given order, non-ASCII text (emoji too) kept as is."""
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, line_break=line_break)
