"""File trees of commits: entries, canonical serialization, git-compatible ids and listing helpers.

A tree maps every file path of a commit to an ``Entry``. Trees are immutable and addressed by the SHA-1 of their
canonical JSON, so identical trees are stored once and decoded trees can be cached forever.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass
from typing import Any

from . import frontmatter

LFS_POINTER_TEMPLATE = "version https://git-lfs.github.com/spec/v1\noid sha256:{sha}\nsize {size}\n"


def git_blob_sha1(data: bytes) -> str:
    h = hashlib.sha1(f"blob {len(data)}\0".encode())
    h.update(data)
    return h.hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    return LFS_POINTER_TEMPLATE.format(sha=sha256, size=size).encode()


@dataclass(frozen=True)
class Entry:
    """One file: its content (``sha256``, ``size``), whether it is stored as a large (LFS) file, and the git blob
    SHA-1 of the content when known (always for regular files)."""

    sha256: str
    size: int
    lfs: bool
    sha1: str | None = None

    @property
    def oid(self) -> str:
        """The git blob id: of the content for regular files, of the LFS pointer text for large ones."""
        if self.lfs:
            return git_blob_sha1(lfs_pointer(self.sha256, self.size))
        assert self.sha1 is not None
        return self.sha1

    @property
    def pointer_size(self) -> int:
        return len(lfs_pointer(self.sha256, self.size))

    def to_json(self) -> list[Any]:
        return [self.sha256, self.size, 1 if self.lfs else 0, self.sha1]

    @classmethod
    def from_json(cls, raw: list[Any]) -> Entry:
        return cls(raw[0], int(raw[1]), bool(raw[2]), raw[3])

    def api_dict(self, path: str) -> dict[str, Any]:
        """The tree / paths-info entry shape of the Hub API (never with ``xetHash``)."""
        out: dict[str, Any] = {"type": "file", "oid": self.oid, "size": self.size, "path": path}
        if self.lfs:
            out["lfs"] = {"oid": self.sha256, "size": self.size, "pointerSize": self.pointer_size}
        return out


FileTree = dict[str, Entry]


def encode_tree(tree: FileTree) -> tuple[str, bytes]:
    """Canonical JSON of a tree -> (tree id, compressed bytes)."""
    raw = json.dumps({p: tree[p].to_json() for p in sorted(tree)}, separators=(",", ":")).encode()
    return hashlib.sha1(raw).hexdigest(), zlib.compress(raw, 6)


def decode_tree(data: bytes) -> FileTree:
    return {p: Entry.from_json(v) for p, v in json.loads(zlib.decompress(data)).items()}


def directories(tree: FileTree) -> set[str]:
    dirs: set[str] = set()
    for path in tree:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    return dirs


def dir_oid(tree: FileTree, directory: str) -> str:
    """A stable id for a folder, derived from everything below it (its content changes -> its id changes)."""
    prefix = directory + "/"
    h = hashlib.sha1(b"tree\0")
    for p in sorted(p for p in tree if p.startswith(prefix)):
        h.update(f"{p[len(prefix) :]}\0{tree[p].oid}\n".encode())
    return h.hexdigest()


def dir_oids(tree: FileTree, wanted: set[str] | None = None) -> dict[str, str]:
    """``dir_oid`` of many folders in one pass over the tree (O(files x depth) instead of O(files x folders))."""
    hashers: dict[str, Any] = {}
    for p in sorted(tree):
        parts = p.split("/")
        oid = tree[p].oid
        for i in range(1, len(parts)):
            d = "/".join(parts[:i])
            if wanted is not None and d not in wanted:
                continue
            hs = hashers.get(d)
            if hs is None:
                hs = hashers[d] = hashlib.sha1(b"tree\0")
            hs.update(f"{'/'.join(parts[i:])}\0{oid}\n".encode())
    return {d: hs.hexdigest() for d, hs in hashers.items()}


def list_tree(tree: FileTree, path: str, recursive: bool) -> list[dict[str, Any]] | None:
    """Entries below ``path`` ("" = root), directories and files mixed, sorted by path; None if ``path`` is absent.

    A file path lists as that single file."""
    path = path.strip("/")
    if path and path in tree:
        return [tree[path].api_dict(path)]
    prefix = path + "/" if path else ""
    all_dirs = directories(tree)
    if path and path not in all_dirs:
        return None
    listed = {
        d
        for d in all_dirs
        if d.startswith(prefix) and d != path and (recursive or "/" not in d[len(prefix) :])
    }
    oids = dir_oids(tree, listed)
    out: list[dict[str, Any]] = [{"type": "directory", "oid": oids[d], "size": 0, "path": d} for d in listed]
    for p, e in tree.items():
        if p.startswith(prefix) and (recursive or "/" not in p[len(prefix) :]):
            out.append(e.api_dict(p))
    out.sort(key=lambda item: item["path"])
    return out


def parse_front_matter(text: str) -> dict[str, Any]:
    """The YAML front matter of a README.md (``---`` block at the top), {} if absent, invalid or past the bounds
    of ``frontmatter`` (size, alias expansion, serialized card size)."""
    return frontmatter.parse_front_matter(text)


def card_tags(card: dict[str, Any]) -> list[str]:
    """Hub-style tags from card data: the card's tags, the library name and ``license:<id>``."""
    tags: list[str] = []
    raw = card.get("tags")
    if isinstance(raw, str):
        raw = [raw]
    if isinstance(raw, list):
        tags.extend(str(t) for t in raw)
    if isinstance(card.get("library_name"), str):
        tags.append(card["library_name"])
    if isinstance(card.get("pipeline_tag"), str):
        tags.append(card["pipeline_tag"])
    lic = card.get("license")
    if isinstance(lic, str):
        tags.append(f"license:{lic}")
    return list(dict.fromkeys(tags))
