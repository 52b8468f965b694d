"""The two parsers a single hostile request used to freeze the server with, now bounded.

- ``.gitignore`` matching (preupload's ``shouldIgnore``): the old hand-written matcher turned ``*******b`` into a
  backtracking regex (11.6 s for one name; 30 stars never finished). Now pathspec with hardened regexes, and
  bounds on text, patterns and work (``server/gitignore.py``).
- README front matter (``/api/validate-yaml``, repo cards): 4.7 MB of YAML took 9.6 s on the event loop and a
  253-byte "billion laughs" README became a 53 MB card. Now ``server/frontmatter.py``: size, alias-expansion,
  depth and card-size bounds, parsed off the loop.

Server tests run against the real server (``hub`` fixture) and use ``_probe.assert_no_stall``.
"""

from __future__ import annotations

import base64
import json
import random
import re
import time

import pathspec
import pytest
from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern

from modelhub.server.domain import frontmatter, gitignore
from modelhub.server.domain.frontmatter import check_front_matter, parse_front_matter
from modelhub.server.domain.gitignore import GitignoreTooLarge, matcher

from ._probe import assert_no_stall

HOSTILE = [
    "*******b",
    "*" * 30 + "c",
    "*a*a*a*a*a*a*a*a*a*a*a*b",
    "a/**/a/**/a/**/a/**/b",
    "**/a/**/a/**/a*a*a*b/**/c",
]


def _billion_laughs(levels: int = 7) -> str:
    """A README whose front matter is a few hundred bytes and 9**levels strings once aliases are expanded."""
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [{', '.join(['*' + prev] * 9)}]")
    return "---\n" + "\n".join(lines) + "\n---\n# lol\n"


# --- .gitignore: semantics ----------------------------------------------------------------------------------


def test_gitignore_semantics_negation_anchoring_folders_double_star() -> None:
    ignored = matcher(
        "# comment\n*.log\n!keep.log\nbuild/\n/top.txt\ndocs/**/*.tmp\n**/cache/**\nsub/*.bin\n\\#hash\n"
        "*.py[cod]\nspace\\ \nlog?.txt  \n"
    )
    expected = {
        "a.log": True,
        "x/y/a.log": True,
        "keep.log": False,  # negation: last match wins
        "x/keep.log": False,
        "build/x.txt": True,
        "src/build/y.o": True,  # a pattern without "/" matches at any depth
        "build": False,  # "build/" only matches folders
        "top.txt": True,
        "sub/top.txt": False,  # a leading "/" anchors at the root
        "docs/c.tmp": True,  # "/**/" matches zero folders too
        "docs/a/b/c.tmp": True,
        "other/docs/c.tmp": False,  # a pattern with a "/" is anchored
        "cache/x": True,
        "a/b/cache/c/d": True,
        "sub/w.bin": True,
        "sub/deeper/w.bin": False,  # "*" does not cross "/"
        "#hash": True,
        "m.pyc": True,  # bracket expressions (the old matcher took them literally)
        "m.py": False,
        "space ": True,  # an escaped trailing space is kept, unescaped ones are dropped
        "space": False,
        "log1.txt": True,
        "b.txt": False,
    }
    assert {p: ignored(p) for p in expected} == expected


def test_gitignore_hardened_regexes_match_exactly_what_pathspec_matches() -> None:
    """Differential check: the hardened patterns agree with pathspec's own, match and directory mark."""
    rnd = random.Random(7)
    atoms = ["a", "b", "ab", "*", "*", "?", "[ab]", "\\*", "**"]

    def pattern() -> str:
        segs = [
            "".join(rnd.choice(atoms) for _ in range(rnd.randint(1, 5))) if rnd.random() < 0.7 else "**"
            for _ in range(rnd.randint(1, 4))
        ]
        return rnd.choice(["", "/", "!"]) + "/".join(segs) + rnd.choice(["", "", "/"])

    hardened = 0
    for _ in range(1500):
        text = pattern()
        plain = GitIgnoreSpecPattern(text)
        if plain.regex is None:
            continue
        safe = gitignore._SafePattern(text)
        hardened += safe.regex.pattern != plain.regex.pattern
        for _ in range(30):
            path = "/".join(
                "".join(rnd.choice("ab*") for _ in range(rnd.randint(1, 6))) for _ in range(rnd.randint(1, 5))
            )
            a, b = plain.regex.match(path), safe.regex.match(path)
            assert bool(a) == bool(b), (text, path)
            if a and b:
                assert a.groupdict().get("ps_d") == b.groupdict().get("ps_d"), (text, path)
    assert hardened > 300  # the check did exercise the hardened forms


def test_gitignore_python_310_atomic_groups_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    """Python 3.10 has no ``(?>...)``: the lookahead + backreference form must match the same."""

    class _Sys:
        version_info = (3, 10, 0)

    for text in HOSTILE + ["*a*b", "x/**/y/**/z", "**/a?*[ab]*b/", "!**/q*r*s"]:
        native = gitignore._SafePattern(text).regex
        monkeypatch.setattr(gitignore, "sys", _Sys)
        emulated = gitignore._SafePattern(text).regex
        monkeypatch.undo()
        assert "(?>" not in emulated.pattern
        for path in ["a" * 50, "a/" * 20 + "b", "x/y/z", "x/q/y/w/z/k", "aqxrysb", "a/aqbab/c", "q/rs"]:
            assert bool(native.match(path)) == bool(emulated.match(path)), (text, path)


def test_negated_class_never_matches_a_slash() -> None:
    assert matcher("a[!x]b")("a/b") is False  # as in git; plain pathspec would say True
    assert matcher("a[!x]b")("acb") is True


def test_hostile_patterns_are_fast_on_long_names() -> None:
    """Old matcher: ``*******b`` on 1000 ``a`` characters does not finish (20 s at 100 characters)."""
    names = ["a" * 1024, "/".join(["a"] * 512), "a" * 1023 + "b", "a" * 4000]
    for text in HOSTILE:
        ignored = matcher(text)
        for name in names:
            start = time.perf_counter()
            ignored(name)
            assert time.perf_counter() - start < 0.05, (text, len(name))
    assert matcher("*******b")("a" * 1023 + "b") is True
    assert matcher("*a*a*a*a*a*a*a*a*a*a*a*b")("a" * 1023) is False
    assert matcher("a/**/a/**/a/**/a/**/b")("/".join(["a"] * 400) + "/b") is True


def test_many_hostile_patterns_cost_is_bounded() -> None:
    """2,000 distinct hostile patterns against 1,000 names of 1,000 characters: each check takes milliseconds
    and the whole run stops at ``MAX_WORK`` (about a second) instead of running for hours."""
    text = "\n".join(f"{HOSTILE[i % len(HOSTILE)]}{i}" for i in range(gitignore.MAX_PATTERNS))
    ignored = matcher(text)
    start = time.perf_counter()
    checked = 0
    with pytest.raises(GitignoreTooLarge, match="more work than one request"):
        for _ in range(1000):
            one = time.perf_counter()
            assert ignored("a" * 1000) is False
            assert time.perf_counter() - one < 0.2
            checked += 1
    assert time.perf_counter() - start < 5
    assert checked == gitignore.MAX_WORK // (gitignore.MAX_PATTERNS * 1001)


def test_gitignore_bounds() -> None:
    big = "#" * gitignore.MAX_BYTES + "\n*.log\n"
    with pytest.raises(GitignoreTooLarge, match="64 KiB"):
        matcher(big)
    lenient = matcher("*.txt\n" + big, strict=False)  # a stored one: only its first 64 KiB are used
    assert lenient("a.txt") is True and lenient("a.log") is False
    many = "\n".join(f"p{i}" for i in range(gitignore.MAX_PATTERNS + 1))
    with pytest.raises(GitignoreTooLarge, match="2000 patterns"):
        matcher(many)
    lenient = matcher(many, strict=False)
    assert (
        lenient(f"p{gitignore.MAX_PATTERNS - 1}") is True and lenient(f"p{gitignore.MAX_PATTERNS}") is False
    )
    assert matcher("*")("x" * (gitignore.MAX_PATH + 1)) is False  # longer than git's PATH_MAX: never ignored
    assert matcher("foo\\")("foo") is False  # a line pathspec rejects is skipped, not a 500
    assert matcher("")("a") is False


# --- front matter: units ------------------------------------------------------------------------------------


def test_front_matter_semantics_unchanged() -> None:
    assert parse_front_matter("---\nlicense: mit\n---\n# x") == {"license": "mit"}
    assert parse_front_matter("---\r\nlicense: mit\r\ntags: [a, b]\r\n---\r\n") == {
        "license": "mit",
        "tags": ["a", "b"],
    }
    assert parse_front_matter("---\n: : bad\n---\n") == {}
    assert parse_front_matter("# no front matter\n---\na: 1\n---\n") == {}
    assert parse_front_matter("---\na: 1\n") == {}  # not closed
    assert parse_front_matter("---\n- a\n---\n") == {}
    assert parse_front_matter("---\na: 1\n  ---  \nb: 2\n---\n") == {"a": 1}
    assert check_front_matter("---\nlicense: mit\n---\n") is None
    assert check_front_matter("no front matter") is None
    assert check_front_matter("---\n---\n") is None
    assert check_front_matter("---\n: : bad\n---\n").startswith("Invalid YAML in README.md metadata:")
    assert check_front_matter("---\n- a\n---\n") == "README.md metadata must be a YAML mapping."


def test_alias_budget_billion_laughs_and_recursion() -> None:
    start = time.perf_counter()
    error = check_front_matter(_billion_laughs(9))
    assert error is not None and "too large" in error and "aliases" in error
    assert parse_front_matter(_billion_laughs(9)) == {}
    assert time.perf_counter() - start < 2
    assert parse_front_matter(_billion_laughs(2)) != {}  # 81 strings: fine
    for recursive in ("---\na: &a [*a]\n---\n", "---\na: &a {b: *a}\n---\n"):
        assert "too large" in check_front_matter(recursive)
        assert parse_front_matter(recursive) == {}
    # one long string used many times: few values, much text once expanded
    long_string = "---\ns: &s " + "x" * 100_000 + "\nl: [" + ", ".join(["*s"] * 50) + "]\n---\n"
    assert "characters of text" in check_front_matter(long_string)


def test_merge_keys_are_bounded_while_loading() -> None:
    """``<<: [*b, *b, ...]`` costs (keys x aliases) while loading, even in PyYAML 6.0.4 (19 s for 130 KB)."""
    base = "b: &b {" + ", ".join(f"k{i}: {i}" for i in range(8000)) + "}\n"
    doc = "---\n" + base + "x: {<<: [" + ", ".join(["*b"] * 8000) + "]}\n---\n"
    start = time.perf_counter()
    assert check_front_matter(doc) is None  # a repeated alias merges once
    assert time.perf_counter() - start < 2
    many = "".join(
        f"m{i}: &m{i} {{" + ", ".join(f"k{j}: {j}" for j in range(100)) + "}\n" for i in range(200)
    )
    merges = "".join(f"x{j}: {{<<: [" + ", ".join(f"*m{i}" for i in range(200)) + "]}\n" for j in range(20))
    assert "merge keys" in check_front_matter("---\n" + many + merges + "---\n")
    merged = parse_front_matter(
        "---\na: &a {x: 1, y: 2}\nb: &b {x: 9, z: 3}\nc: {<<: [*a, *b, *a], w: 0}\n---\n"
    )
    assert merged["c"] == {"x": 1, "y": 2, "z": 3, "w": 0}  # earlier mappings win, own keys win over merged


def test_front_matter_size_bounds() -> None:
    over = "---\nk: " + "v" * frontmatter.MAX_YAML_CHARS + "\n---\n"
    start = time.perf_counter()
    assert "1 MiB" in check_front_matter(over)
    assert parse_front_matter(over) == {}
    assert time.perf_counter() - start < 1
    # a valid card whose JSON is past MAX_CARD_JSON is not indexed, but validates
    large_card = "---\nlicense: mit\ndescription: " + "d" * (frontmatter.MAX_CARD_JSON + 10) + "\n---\n"
    assert check_front_matter(large_card) is None
    assert parse_front_matter(large_card) == {}
    assert parse_front_matter("---\n2020-01-01: x\n---\n") == {}  # not JSON (a date key): no card, no 500
    assert "more than 100 levels" in check_front_matter("---\n" + "a: [" * 120 + "]" * 120 + "\n---\n")


# --- against the server -------------------------------------------------------------------------------------


def _create(hub) -> str:
    repo_id = hub.new_repo_id("pb")
    ns, name = repo_id.split("/")
    with hub.http(hub.token) as c:
        r = c.post("/api/repos/create", json={"name": name, "organization": ns})
        assert r.status_code == 200, r.text
    return repo_id


def _commit(hub, repo_id: str, files: dict[str, bytes]):
    lines = [{"key": "header", "value": {"summary": "c", "description": ""}}] + [
        {"key": "file", "value": {"content": base64.b64encode(d).decode(), "path": p, "encoding": "base64"}}
        for p, d in files.items()
    ]
    with hub.http(hub.token) as c:
        return c.post(
            f"/api/models/{repo_id}/commit/main",
            content="\n".join(json.dumps(x) for x in lines).encode(),
            headers={"content-type": "application/x-ndjson"},
        )


def _preupload(hub, repo_id: str, paths: list[str], git_ignore: str | None = None):
    body: dict = {"files": [{"path": p, "size": 1, "sample": ""} for p in paths]}
    if git_ignore is not None:
        body["gitIgnore"] = git_ignore
    with hub.http(hub.token) as c:
        start = time.perf_counter()
        r = c.post(f"/api/models/{repo_id}/preupload/main", json=body)
        return r, time.perf_counter() - start


HOSTILE_TEXT = "\n".join([*HOSTILE, "*.log"]) + "\n"
LONG_NAMES = {
    "a" * 1000: False,
    "a" * 999 + "b": True,  # *******b
    "/".join(["a"] * 400) + "/b": True,  # a/**/a/**/a/**/a/**/b
    "/".join(["a"] * 500): False,
    "d/x.log": True,
    "keep.txt": False,
}


def _should_ignore(r) -> dict[str, bool]:
    assert r.status_code == 200, r.text
    return {f["path"]: f["shouldIgnore"] for f in r.json()["files"]}


def test_preupload_with_hostile_uploaded_gitignore_is_fast_and_right(hub) -> None:
    repo_id = _create(hub)
    (r, elapsed), _worst = assert_no_stall(
        hub.url, lambda: _preupload(hub, repo_id, list(LONG_NAMES), HOSTILE_TEXT)
    )
    assert _should_ignore(r) == LONG_NAMES
    assert elapsed < 2


def test_preupload_with_hostile_committed_gitignore_is_fast_and_right(hub) -> None:
    repo_id = _create(hub)
    assert _commit(hub, repo_id, {".gitignore": HOSTILE_TEXT.encode()}).status_code == 200
    (r, elapsed), _worst = assert_no_stall(hub.url, lambda: _preupload(hub, repo_id, list(LONG_NAMES)))
    assert _should_ignore(r) == LONG_NAMES
    assert elapsed < 2


def test_preupload_gitignore_bounds(hub) -> None:
    repo_id = _create(hub)
    oversized = "#" * gitignore.MAX_BYTES + "\n*.log\n"
    r, elapsed = _preupload(hub, repo_id, ["x.log"], oversized)
    assert r.status_code == 400 and "64 KiB" in r.json()["error"] and elapsed < 2
    r, _ = _preupload(hub, repo_id, ["x.log"], "\n".join(f"p{i}" for i in range(gitignore.MAX_PATTERNS + 1)))
    assert r.status_code == 400 and "2000 patterns" in r.json()["error"]
    # 2,000 hostile patterns and 256 names of 1,000 characters: refused once past MAX_WORK, quickly
    many = "\n".join(f"{HOSTILE[i % len(HOSTILE)]}{i}" for i in range(gitignore.MAX_PATTERNS))
    names = [f"{i:03d}" + "a" * 997 for i in range(256)]
    (r, elapsed), _worst = assert_no_stall(hub.url, lambda: _preupload(hub, repo_id, names, many))
    assert r.status_code == 400 and "more work than one request" in r.json()["error"]
    assert elapsed < 5
    # a committed one past 64 KiB: its first 64 KiB apply, what comes after does not, and preupload still works
    assert _commit(hub, repo_id, {".gitignore": ("*.txt\n" + oversized).encode()}).status_code == 200
    r, _ = _preupload(hub, repo_id, ["a.txt", "x.log", "w.bin"])
    assert _should_ignore(r) == {"a.txt": True, "x.log": False, "w.bin": False}


def test_validate_yaml_bounded_and_off_the_loop(hub) -> None:
    with hub.http(hub.token) as c:

        def post(content: str):
            start = time.perf_counter()
            r = c.post("/api/validate-yaml", json={"content": content, "repoType": "model"})
            return r, time.perf_counter() - start

        r, _ = post("---\nlicense: mit\n---\n# hi\n")
        assert r.status_code == 200 and r.json() == {"errors": [], "warnings": []}
        r, _ = post("---\n: : bad\n---\n")
        assert r.status_code == 400
        assert r.json()["errors"][0]["message"].startswith("Invalid YAML in README.md metadata:")
        # 4.7 MB of YAML (9.6 s on the loop before): refused at once, naming the limit
        huge = "---\n" + "".join(f"key{i}: value number {i}\n" for i in range(220_000)) + "---\n"
        assert len(huge) > 4_700_000
        (r, elapsed), _worst = assert_no_stall(hub.url, lambda: post(huge))
        assert r.status_code == 413 and "4194304" in r.json()["error"] and elapsed < 2
        # 2 MB of YAML in a README under the content bound: invalid, the 1 MiB metadata limit named
        r, elapsed = post(huge[:2_000_000] + "\n---\n")
        assert r.status_code == 400 and "1 MiB" in r.json()["errors"][0]["message"] and elapsed < 2
        # just under 1 MiB of valid YAML: parsed, on a thread (the loop keeps answering)
        near = "---\n" + "".join(f"key{i}: value number {i}\n" for i in range(36_500)) + "---\n"
        assert 1_000_000 < len(near) < frontmatter.MAX_YAML_CHARS
        (r, _elapsed), _worst = assert_no_stall(hub.url, lambda: post(near))
        assert r.status_code == 200 and r.json() == {"errors": [], "warnings": []}
        # billion laughs: a few hundred bytes, invalid
        r, elapsed = post(_billion_laughs())
        assert r.status_code == 400 and "too large" in r.json()["errors"][0]["message"] and elapsed < 2


def test_hostile_readme_cards_stay_small_in_listings(hub) -> None:
    laughs = _hub_repo_with_readme(hub, _billion_laughs())
    recursive = _hub_repo_with_readme(hub, "---\na: &a [*a]\n---\n# x\n")
    large = _hub_repo_with_readme(hub, "---\nlicense: mit\nd: " + "x" * 300_000 + "\n---\n")
    normal = _hub_repo_with_readme(hub, "---\nlicense: mit\ntags: [bounded]\n---\n# ok\n")
    with hub.http(hub.token) as c:
        start = time.perf_counter()
        r = c.get("/api/models", params={"author": "alice", "limit": 1000})
        elapsed = time.perf_counter() - start
        assert r.status_code == 200 and elapsed < 2
        assert len(r.content) < 1_000_000
        items = {i["id"]: i for i in r.json()}
        for repo_id in (laughs, recursive, large):
            assert items[repo_id]["tags"] == []
            assert c.get(f"/api/models/{repo_id}").json().get("cardData") is None
        assert {"bounded", "license:mit"} <= set(items[normal]["tags"])
        assert c.get(f"/api/models/{normal}").json()["cardData"]["license"] == "mit"


def _hub_repo_with_readme(hub, readme: str) -> str:
    repo_id = _create(hub)
    r = _commit(hub, repo_id, {"README.md": readme.encode()})
    assert r.status_code == 200, r.text
    assert re.fullmatch(r"[0-9a-f]{40}", r.json()["commitOid"])
    return repo_id


def test_pathspec_is_the_matcher() -> None:
    """The hand-written matcher is gone: the rules are pathspec's GitIgnoreSpec."""
    assert isinstance(gitignore._compiled("*.log", True), pathspec.GitIgnoreSpec)
    assert issubclass(gitignore._SafePattern, GitIgnoreSpecPattern)
