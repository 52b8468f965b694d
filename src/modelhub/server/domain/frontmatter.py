"""README.md front matter (the ``---`` YAML block at the top), parsed within bounds.

``parse_front_matter`` (repo cards: listings, model info) and ``check_front_matter`` (``POST /api/validate-yaml``)
share one loader, ``yaml.CSafeLoader`` when PyYAML has libyaml (about 8x faster), else ``yaml.SafeLoader``.
A small README can otherwise make the server do unbounded work, so:

- the YAML block is at most ``MAX_YAML_CHARS`` (1 MiB) characters; a larger one is invalid. Finding the block is a
  single linear scan, whatever the text.
- aliases ("billion laughs"): PyYAML shares an aliased node, so loading is cheap and the blow-up comes later, when
  the result is walked or serialized (a 253-byte README became a 53 MB card). After loading, the value is walked
  the way a serializer would, each alias use counted again: at most ``MAX_NODES`` (100,000) values, nesting at
  most ``MAX_DEPTH`` (100) levels (which also rejects recursive aliases) and ``MAX_EXPANDED_CHARS`` (4 MiB) of
  scalar text in total. Past any of them the metadata is invalid ("too large once expanded").
- merge keys (``<<: [*a, *b]``) copy pairs while loading, so they are bounded while loading: at most
  ``MAX_NODES`` copied pairs in all, and a mapping merged twice into the same mapping is merged once.
- a card (``parse_front_matter``) must also serialize (``json.dumps(card, default=str)``, what the server stores
  for listings) to at most ``MAX_CARD_JSON`` (256 KiB), and be representable as JSON at all (no date keys, say);
  otherwise the card is ``{}``: the README is kept, its metadata is not indexed.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml
from yaml.constructor import ConstructorError

MAX_YAML_CHARS = 1024 * 1024
MAX_NODES = 100_000
MAX_DEPTH = 100
MAX_EXPANDED_CHARS = 4 * 1024 * 1024
MAX_CARD_JSON = 256 * 1024

# str.splitlines() boundaries; the closing line is the first later line whose strip() is "---"
_SEPS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_FIRST_SEP = re.compile(f"[{_SEPS}]")
_CLOSING = re.compile(rf"[{_SEPS}][^\S{_SEPS}]*---[^\S{_SEPS}]*(?=[{_SEPS}]|\Z)")
_MERGE = "tag:yaml.org,2002:merge"
_VALUE = "tag:yaml.org,2002:value"


class _TooLarge(Exception):
    pass


_Base: Any = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader


class _Loader(_Base):
    """The safe loader with merge keys bounded (PyYAML copies one pair per merged key and alias use)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.merge_budget = MAX_NODES

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        merge: list[Any] = []
        index = 0
        while index < len(node.value):
            key_node, value_node = node.value[index]
            if key_node.tag == _MERGE:
                del node.value[index]
                if isinstance(value_node, yaml.MappingNode):
                    subs = [value_node]
                elif isinstance(value_node, yaml.SequenceNode):
                    subs = value_node.value
                else:
                    raise ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"expected a mapping or list of mappings for merging, but found {value_node.id}",
                        value_node.start_mark,
                    )
                seen: set[int] = set()
                submerge = []
                for sub in subs:
                    if not isinstance(sub, yaml.MappingNode):
                        raise ConstructorError(
                            "while constructing a mapping",
                            node.start_mark,
                            f"expected a mapping for merging, but found {sub.id}",
                            sub.start_mark,
                        )
                    if id(sub) in seen:  # the first occurrence already takes precedence
                        continue
                    seen.add(id(sub))
                    self.flatten_mapping(sub)
                    self.merge_budget -= len(sub.value)
                    if self.merge_budget < 0:
                        raise _TooLarge(f"merge keys (<<) copy more than {MAX_NODES} values")
                    submerge.append(sub.value)
                for pairs in reversed(submerge):  # earlier mappings in the list win: their pairs come last
                    merge.extend(pairs)
            elif key_node.tag == _VALUE:
                key_node.tag = "tag:yaml.org,2002:str"
                index += 1
            else:
                index += 1
        if merge:
            node.value = merge + node.value


def _block(text: str) -> str | None:
    """The YAML between the opening and the closing ``---`` lines (None when there is none); ``_TooLarge`` past
    ``MAX_YAML_CHARS``. Same block as ``"\\n".join(text.splitlines()[1:end])``, without splitting the whole text."""
    if not text.startswith("---"):
        return None
    first = _FIRST_SEP.search(text)
    if first is None:
        return None
    start = first.end() + (text.startswith("\r\n", first.start()))
    closing = _CLOSING.search(text, first.start())
    if closing is None:
        return None
    raw = text[start : closing.start()]
    if len(raw) > MAX_YAML_CHARS:
        raise _TooLarge(f"the metadata block is longer than {MAX_YAML_CHARS} characters (1 MiB)")
    return "\n".join(raw.splitlines())


def _check_expanded(data: Any, max_chars: int) -> None:
    """``_TooLarge`` when ``data``, walked as a serializer would (aliases expanded), is past the bounds."""
    nodes = 1
    chars = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        obj, depth = stack.pop()
        if isinstance(obj, dict):
            children: Any = [x for kv in obj.items() for x in kv]
        elif isinstance(obj, (list, tuple, set, frozenset)):
            children = obj
        else:
            if isinstance(obj, (str, bytes)):
                chars += len(obj)
            elif isinstance(obj, int):
                chars += obj.bit_length() // 3 + 1
            else:
                chars += 8
            if chars > max_chars:
                raise _TooLarge(f"more than {max_chars} characters of text once aliases are expanded")
            continue
        if depth >= MAX_DEPTH and children:
            raise _TooLarge(f"nested more than {MAX_DEPTH} levels deep (or recursive)")
        nodes += len(children)
        if nodes > MAX_NODES:
            raise _TooLarge(f"more than {MAX_NODES} values once aliases are expanded")
        stack.extend((c, depth + 1) for c in children)


def _load(block: str, max_chars: int) -> Any:
    loader = _Loader(block)
    try:
        data = loader.get_single_data()
    finally:
        loader.dispose()
    _check_expanded(data, max_chars)
    return data


def parse_front_matter(text: str) -> dict[str, Any]:
    """The card data of a README.md: its front matter as a dict; {} when absent, invalid or past the bounds
    (including ``MAX_CARD_JSON`` once serialized). Never raises for bad YAML."""
    try:
        block = _block(text)
        if block is None:
            return {}
        data = _load(block, MAX_CARD_JSON)
        if not isinstance(data, dict) or len(json.dumps(data, default=str)) > MAX_CARD_JSON:
            return {}
    except Exception:  # invalid YAML, too large, too deep (RecursionError), not JSON (date keys): no card
        return {}
    return data


def check_front_matter(text: str) -> str | None:
    """For ``/api/validate-yaml``: None when the README's front matter is absent or valid, else the message."""
    try:
        block = _block(text)
        if block is None:
            return None
        data = _load(block, MAX_EXPANDED_CHARS)
    except _TooLarge as exc:
        return f"README.md metadata is too large: {exc}."
    except Exception as exc:  # YAMLError, RecursionError, ValueError (an int of 4300+ digits)...
        return f"Invalid YAML in README.md metadata: {exc}"
    if data is not None and not isinstance(data, dict):
        return "README.md metadata must be a YAML mapping."
    return None


def card_body(text: str) -> str:
    """The README text after its front matter block (all of it when there is none): what a card page renders."""
    if not text.startswith("---"):
        return text
    first = _FIRST_SEP.search(text)
    closing = _CLOSING.search(text, first.start()) if first is not None else None
    if closing is None:
        return text
    return text[closing.end() :].lstrip("\r\n")
