"""A bounded fuzz run of the HTTP API: ``schemathesis run`` over the server's own ``/openapi.json``, with a write
token, against a dedicated server (its own data directory: the fuzzer commits, deletes branches, opens
discussions and merges pull requests in its repos).

All of schemathesis' phases run: coverage (deterministic boundary, wrong-typed and missing values for every
parameter and body field), fuzzing (``MAX_EXAMPLES`` generated cases per operation, valid and invalid data) and
stateful (sequences chained through the links schemathesis infers), in deterministic mode with one worker, so
that CI runs the same cases every time. Most generated path parameters name objects that exist
(``_fuzz_hooks.py``), so that requests get past "repo not found". The checks: no 5xx, every status answered is
declared, the declared media types, headers and bodies match, and a method the path does not serve gets 405 with
the right ``Allow``.

``pytest -s tests/server/test_fuzz.py`` prints the summary: the number of cases, the time, and the statuses the
server answered (from its access log), per operation.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis

from modelhub.server.api.openapi import OPERATIONS

from .._hub import HubServer
from ._lfs import commit, file_line

MAX_EXAMPLES = 50  # generated cases per operation in the fuzzing phase (coverage cases come on top)
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "unsupported_method",
    "allow_header_conformance",
)
HOOKS = Path(__file__).parent / "_fuzz_hooks.py"
OPERATIONS_FILE = Path(__file__).parent / "openapi_operations.txt"
_ACCESS = re.compile(r'"([A-Z]+) ([^ "]*)" (\d{3}) \d+B ')


def _seed(url: str, token: str) -> dict[str, list[str]]:
    """A repo of each type (``alice/fz``), files, a branch, a tag, a discussion and a PR; returns path parameter
    values naming them."""
    readme = b"---\nlicense: mit\ntags: [fuzz]\n---\n# fz\n"
    blob = bytes(range(256)) * 8
    with httpx.Client(base_url=url, headers={"authorization": f"Bearer {token}"}, timeout=60) as c:
        for repo_type, private in (("model", False), ("dataset", False), ("space", True)):
            body = {"name": "fz", "organization": "alice", "type": repo_type, "private": private}
            c.post("/api/repos/create", json=body).raise_for_status()
        lines = [file_line("README.md", readme), file_line("dir/a.txt", b"a\n"), file_line("dir/b.bin", blob)]
        head = commit(c, "alice/fz", lines).raise_for_status().json()["commitOid"]
        c.post("/api/models/alice/fz/branch/dev", json={}).raise_for_status()
        c.post("/api/models/alice/fz/tag/main", json={"tag": "v1"}).raise_for_status()
        c.post("/api/models/alice/fz/discussions", json={"title": "a question"}).raise_for_status()
        said = c.post("/api/models/alice/fz/discussions/1/comment", json={"comment": "hi"}).raise_for_status()
        pr = commit(c, "alice/fz", [file_line("dir/c.txt", b"c\n")], create_pr="1").raise_for_status().json()
        assert pr["pullRequestUrl"].endswith("/discussions/2")
    return {
        "namespace": ["alice"],
        "name": ["fz"],
        "revision": ["main", "dev", "v1", head, head[:7], "refs%2Fpr%2F2"],
        "branch": ["dev", "main"],
        "tag": ["v1"],
        "path": ["README.md", "dir/a.txt", "dir", "dir/b.bin", ".gitattributes"],
        "num": ["1", "2"],
        "comment_id": [said.json()["newMessage"]["id"]],
        "user": ["alice"],
        "org": ["fz-org"],
        "oid": [hashlib.sha256(blob).hexdigest()],
    }


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HubServer, dict[str, list[str]]]]:
    server = HubServer(tmp_path_factory.mktemp("fuzz") / "data").start()
    try:
        server.create_user("alice")
        server.alice_token = server.create_token("alice", "write")
        server.create_org("fz-org", ["alice"])
        server.admin("org", "set-role", "fz-org", "alice", "admin")
        yield server, _seed(server.url, server.alice_token)
    finally:
        server.stop()


def _template(template: str) -> re.Pattern[str]:
    parts = []
    for part in re.split(r"(\{\w+\})", template):
        if part in ("{path}", "{rest}"):
            parts.append(".+")
        elif part in ("{plural}", "{prefix}"):
            parts.append("(?:models|datasets|spaces)" if part == "{plural}" else "(?:datasets|spaces)")
        else:
            parts.append("[^/]+" if part.startswith("{") else re.escape(part))
    return re.compile("".join(parts))


# the templates with fewer parameters first: /api/models/a/b/refs is "refs", not a repo named "b/refs"
_TEMPLATES = [
    (label, _template(label.split(" ", 1)[1])) for label in sorted(OPERATIONS, key=lambda o: o.count("{"))
]


def _operation_of(method: str, raw_path: str) -> str:
    """The documented operation a logged request went to."""
    path = raw_path.split("?", 1)[0]
    for label, pattern in _TEMPLATES:
        if label.startswith(method + " ") and pattern.fullmatch(path):
            return label
    return f"{method} (no documented operation: another method, or a path parameter out of its enum)"


def _summary(report: dict, log: str, seconds: float) -> str:
    per_operation: dict[str, Counter[int]] = defaultdict(Counter)
    for method, path, status in _ACCESS.findall(log):
        if "sync=" not in path:  # HubServer.log()'s own marker request
            per_operation[_operation_of(method, path)][int(status)] += 1
    total: Counter[int] = Counter()
    for counts in per_operation.values():
        total.update(counts)
    phases = ", ".join(f"{name} {phase['status']}" for name, phase in (report.get("phases") or {}).items())
    lines = [
        f"\nschemathesis {schemathesis.__version__}: {report['test_cases']['generated']} cases generated"
        f" ({sum(total.values())} requests) over {report['operations']['tested']} operations in {seconds:.0f} s"
        f" ({phases})",
        "statuses: " + ", ".join(f"{s}: {n}" for s, n in sorted(total.items())),
    ]
    for label, counts in sorted(per_operation.items()):
        statuses = ", ".join(f"{s}x{n}" for s, n in sorted(counts.items()))
        lines.append(f"  {label}: {sum(counts.values())} ({statuses})")
    return "\n".join(lines)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_fuzz_api(fuzz_server: tuple[HubServer, dict[str, list[str]]], tmp_path: Path) -> None:
    server, known = fuzz_server
    logged = len(server.log())
    report_path = tmp_path / "report.json"
    cmd = [
        *(sys.executable, "-m", "schemathesis.cli", "run", f"{server.url}/openapi.json"),
        *("--header", f"Authorization: Bearer {server.alice_token}"),
        *("--checks", ",".join(CHECKS)),
        *("--max-examples", str(MAX_EXAMPLES)),
        "--generation-deterministic",  # no randomness (and no example database): the same cases every run
        *("--workers", "1"),  # the server has state: one order of requests
        *("--request-timeout", "60"),
        *("--report", "json", "--report-json-path", str(report_path)),
        "--no-color",
    ]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": str(HOOKS),
        "MODELHUB_FUZZ_VALUES": json.dumps(known),
    }
    start = time.monotonic()
    # in tmp_path: schemathesis and hypothesis keep their caches in the working directory
    run = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=540)
    seconds = time.monotonic() - start
    assert report_path.exists(), f"schemathesis did not run ({run.returncode}):\n{run.stdout}\n{run.stderr}"
    report = json.loads(report_path.read_text())
    print(_summary(report, server.log()[logged:], seconds))
    assert run.returncode == 0, f"schemathesis found problems:\n{run.stdout[-30000:]}\n{run.stderr[-3000:]}"
    assert report["operations"]["tested"] == len(OPERATIONS)


def test_every_operation_is_described() -> None:
    """``api/openapi.OPERATIONS`` covers exactly the documented operations (a new route needs its entry)."""
    documented = {" ".join(line.split()[:2]) for line in OPERATIONS_FILE.read_text().splitlines() if line}
    assert set(OPERATIONS) == documented


def test_openapi_declares_hub_errors_not_422(hub) -> None:
    with hub.http() as c:
        spec = c.get("/openapi.json").json()
    assert (
        "HubError" in spec["components"]["schemas"]
        and "HTTPValidationError" not in spec["components"]["schemas"]
    )
    for path, item in spec["paths"].items():
        for method, op in item.items():
            statuses = set(op["responses"])
            if "/lfs/objects/verify" not in path:  # the only 422: an object of another size
                assert "422" not in statuses, (method, path)
            if "/{plural}/{namespace}/{name}" in path and "xet" not in path:
                assert {"400", "401", "404", "503"} <= statuses, (method, path, statuses)
    assert set(spec["paths"]["/api/{plural}/{namespace}/{name}/commit/{revision}"]["post"]["responses"]) >= {
        "409",
        "412",
        "413",
    }


# --- what the fuzz run found, fixed in the server: quick reproductions on the shared test server ----------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/api/repos/create"), ("DELETE", "/api/repos/delete"), ("POST", "/api/repos/move")],
)
def test_a_repo_type_that_is_not_a_string_is_a_400(hub, method: str, path: str) -> None:
    body = {
        "name": "x",
        "fromRepo": "alice/x",
        "toRepo": "alice/y",
        "type": [None, None],
    }  # was a 500 (TypeError)
    with hub.http(hub.token) as c:
        r = c.request(method, path, json=body)
    assert r.status_code == 400 and r.headers["x-error-code"] == "InvalidRepoType", r.text


def test_lone_surrogates_in_json_are_a_400(hub) -> None:
    """JSON's ``\\ud800`` escapes make strings that are not text: storing one was a 500 (UnicodeEncodeError)."""
    rid = hub.new_repo_id()
    with hub.http(hub.token) as c:
        c.post("/api/repos/create", json={"name": rid.split("/")[1]}).raise_for_status()
        r = c.post(f"/api/models/{rid}/discussions", content=b'{"title": "a\\ud800b"}')
        assert r.status_code == 400 and "surrogate" in r.json()["error"], r.text
        lines = [{"key": "header", "value": {"summary": "x\udfff"}}, file_line("a.txt", b"a")]
        body = "".join(json.dumps(line) + "\n" for line in lines).encode()
        r = c.post(
            f"/api/models/{rid}/commit/main", content=body, headers={"content-type": "application/x-ndjson"}
        )
        assert r.status_code == 400 and "surrogate" in r.json()["error"], r.text
        ok = c.post(f"/api/models/{rid}/discussions", content=b'{"title": "\\ud83d\\ude00"}')
        assert ok.status_code == 200 and ok.json()["title"] == "\U0001f600"  # a pair is one character: fine


@pytest.mark.parametrize(
    "digit", ["%C2%B2", "%D9%A3"]
)  # "²" (int() refuses it: a 500) and "٣" (int() reads 3)
def test_only_ascii_digits_are_numbers(hub, digit: str) -> None:
    rid = hub.new_repo_id()
    with hub.http(hub.token) as c:
        c.post("/api/repos/create", json={"name": rid.split("/")[1]}).raise_for_status()
        for url in (f"/api/models?limit={digit}", f"/api/models/{rid}/discussions?p={digit}"):
            assert c.get(url).status_code == 400, url
        assert c.get(f"/api/models/{rid}/discussions/{digit}").status_code == 400


def test_405_allow_lists_every_method_of_the_url(hub) -> None:
    """Starlette's Allow named the methods of the first route at the path only (one route per method here)."""
    with hub.http(hub.token) as c:
        assert c.options("/api/models/a/b/branch/x").headers["allow"] == "DELETE, POST"
        assert c.put("/api/models/a/b/discussions").headers["allow"] == "GET, POST"
        assert c.put("/a/b/resolve/main/f.txt").headers["allow"] == "GET, HEAD"
