"""Protocol-level tests with plain HTTP: headers, errors, bad input, limits, concurrency, upload negotiation."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

from .._hub import HubServer
from .._services import local_storage_only
from ._lfs import file_line as _file

XET_UA = "unknown/None; hf_hub/2.4.0; python/3.11.2"


def _create(hub, repo_id: str | None = None, **extra) -> str:
    repo_id = repo_id or hub.new_repo_id("p")
    ns, name = repo_id.split("/")
    with hub.http(hub.token) as c:
        r = c.post("/api/repos/create", json={"name": name, "organization": ns, **extra})
        assert r.status_code == 200, r.text
    return repo_id


def _commit(hub, repo_id: str, lines: list[dict], rev: str = "main", token: str | None = None, **params):
    body = "\n".join(json.dumps(x) for x in lines).encode()
    with hub.http(token or hub.token) as c:
        return c.post(
            f"/api/models/{repo_id}/commit/{rev}",
            content=body,
            headers={"content-type": "application/x-ndjson"},
            params=params,
        )


def _header(summary: str = "c", **kw) -> dict:
    return {"key": "header", "value": {"summary": summary, "description": "", **kw}}


def _head_sha(hub, repo_id: str, rev: str = "main") -> str:
    with hub.http(hub.token) as c:
        return c.get(f"/api/models/{repo_id}/revision/{rev}").json()["sha"]


def test_resolve_headers_range_and_errors(hub) -> None:
    repo_id = _create(hub)
    big = os.urandom(2 * 1024 * 1024)
    r = _commit(hub, repo_id, [_header(), _file("small.txt", b"hello"), _file("w.bin", big)])
    assert r.status_code == 200, r.text
    sha = r.json()["commitOid"]
    assert r.json()["commitUrl"] == f"{hub.url}/{repo_id}/commit/{sha}"
    with hub.http(hub.token) as c:
        h = c.head(f"/{repo_id}/resolve/main/small.txt", headers={"accept-encoding": "identity"})
        assert h.status_code == 200
        git_sha1 = hashlib.sha1(b"blob 5\0hello").hexdigest()
        assert h.headers["etag"] == f'"{git_sha1}"'
        assert h.headers["x-repo-commit"] == sha
        assert h.headers["content-length"] == "5" and h.headers["accept-ranges"] == "bytes"
        assert not any(k.lower().startswith("x-xet") for k in h.headers)
        h = c.head(f"/{repo_id}/resolve/{sha}/w.bin")
        sha256 = hashlib.sha256(big).hexdigest()
        assert h.headers["x-linked-etag"] == f'"{sha256}"' and h.headers["x-linked-size"] == str(len(big))
        g = c.get(f"/{repo_id}/resolve/main/w.bin", headers={"range": "bytes=1048576-"})
        assert g.status_code == 206
        assert g.headers["content-range"] == f"bytes 1048576-{len(big) - 1}/{len(big)}"
        assert g.content == big[1048576:]
        assert c.get(f"/{repo_id}/resolve/main/w.bin").content == big
        miss = c.head(f"/{repo_id}/resolve/main/nope.txt", headers={"x-amzn-trace-id": "trace-123"})
        assert miss.headers["x-request-id"] == "trace-123"
        assert miss.status_code == 404 and miss.headers["x-error-code"] == "EntryNotFound"
        assert miss.headers["x-repo-commit"] == sha
        assert c.get(f"/{repo_id}/resolve/nope/small.txt").headers["x-error-code"] == "RevisionNotFound"
        assert c.get(f"/alice/nope-{sha[:6]}/resolve/main/x").headers["x-error-code"] == "RepoNotFound"
        tree = c.get(f"/api/models/{repo_id}/tree/main", params={"recursive": "true"}).json()
        assert all("xetHash" not in e for e in tree)
        lfs = next(e for e in tree if e["path"] == "w.bin")["lfs"]
        assert lfs["oid"] == sha256 and lfs["pointerSize"] > 100


def test_bad_input_is_refused_with_clear_errors(hub) -> None:
    repo_id = _create(hub)
    before = _head_sha(hub, repo_id)
    with hub.http(hub.token) as c:
        r = c.post("/api/repos/create", json={"name": "bad..name", "organization": "alice"})
        assert r.status_code == 400 and "Invalid repo id" in r.json()["error"]
        r = c.post("/api/repos/create", json={"name": "x" * 200})
        assert r.status_code == 400
        assert c.get(f"/api/models/{repo_id}/tree/main/..%2Fetc").status_code == 400
        assert c.get(f"/{repo_id}/resolve/main/a/../../etc/passwd").status_code in (400, 404)
        r = c.post("/api/repos/create", content=b"{not json", headers={"content-type": "application/json"})
        assert r.status_code == 400 and "not valid JSON" in r.json()["error"]
    for bad in ("../evil.txt", "/abs.txt", "a//b", "nul\0.txt"):
        r = _commit(hub, repo_id, [_header(), _file("ok.txt", b"ok"), _file(bad, b"x")])
        assert r.status_code == 400, bad
        assert "Invalid path" in r.json()["error"]
    r = _commit(hub, repo_id, [_header(), {"key": "deletedFile", "value": {"path": "missing.txt"}}])
    assert r.status_code == 404 and r.headers["x-error-code"] == "EntryNotFound"
    r = _commit(
        hub,
        repo_id,
        [
            _header(),
            {"key": "lfsFile", "value": {"path": "x.bin", "algo": "sha256", "oid": "0" * 64, "size": 3}},
        ],
    )
    assert r.status_code == 400 and "never uploaded" in r.json()["error"]
    r = _commit(hub, repo_id, [_header(), _file("t.txt", b"x")], rev="nope")
    assert r.headers["x-error-code"] == "RevisionNotFound"
    r = _commit(hub, repo_id, [_header(), {"key": "bogus", "value": {}}])
    assert r.status_code == 400 and "Unknown NDJSON line key" in r.json()["error"]
    assert _head_sha(hub, repo_id) == before  # nothing landed
    with hub.http("hf_wrong") as c:
        r = c.get("/api/whoami-v2")
        assert (
            r.status_code == 401
            and r.headers["x-error-message"] == "Invalid credentials in Authorization header"
        )
        assert r.headers["x-error-code"]
    with hub.http(hub.read_token) as c:
        r = c.post(f"/api/models/{repo_id}/preupload/main", json={"files": []})
        assert r.status_code == 403 and "read" in r.json()["error"]


def test_request_size_limit(hub) -> None:
    with hub.http(hub.token) as c:
        r = c.post(
            "/api/repos/create",
            content=b"x" * (17 * 1024 * 1024),
            headers={"content-type": "application/json"},
        )
    assert r.status_code == 413


def _batch(hub, repo_id: str, oid: str, size: int) -> dict:
    with hub.http(hub.token) as c:
        r = c.post(
            f"/{repo_id}.git/info/lfs/objects/batch",
            json={
                "operation": "upload",
                "transfers": ["basic"],
                "hash_algo": "sha256",
                "objects": [{"oid": oid, "size": size}],
            },
            headers={"accept": "application/vnd.git-lfs+json"},
        )
        assert r.status_code == 200, r.text
        return r.json()["objects"][0]


def test_lfs_wrong_hash_and_truncated_uploads_store_nothing(hub) -> None:
    repo_id = _create(hub)
    data = os.urandom(100_000)
    oid = hashlib.sha256(data).hexdigest()
    obj = _batch(hub, repo_id, oid, len(data))
    href = obj["actions"]["upload"]["href"]
    import httpx

    # wrong content for the declared sha256
    r = httpx.put(href, content=os.urandom(len(data)))
    assert r.status_code == 400 and "SHA-256" in r.json()["error"]
    assert "actions" in _batch(hub, repo_id, oid, len(data))  # still missing
    # truncated: the connection closes after half the bytes
    u = urlparse(href)
    with socket.create_connection((u.hostname, u.port)) as s:
        s.sendall(
            f"PUT {u.path}?{u.query} HTTP/1.1\r\nHost: {u.netloc}\r\nContent-Length: {len(data)}\r\n\r\n".encode()
            + data[: len(data) // 2]
        )
    assert "actions" in _batch(hub, repo_id, oid, len(data))
    # a forged signature is refused
    assert httpx.put(href.replace("sig=", "sig=00"), content=data).status_code == 403
    # the right bytes: stored, verified, then the batch API offers no upload
    assert httpx.put(href, content=data).status_code == 200
    with hub.http(hub.token) as c:
        v = c.post(obj["actions"]["verify"]["href"], json={"oid": oid, "size": len(data)})
        assert v.status_code == 200
    assert "actions" not in _batch(hub, repo_id, oid, len(data))


def test_truncated_inline_commit_lands_nothing(hub) -> None:
    repo_id = _create(hub)
    before = _head_sha(hub, repo_id)
    line = json.dumps(_file("big.bin", os.urandom(3 * 1024 * 1024))).encode()
    body = json.dumps(_header()).encode() + b"\n" + line[: len(line) // 2]
    u = urlparse(hub.url)
    with socket.create_connection((u.hostname, u.port)) as s:
        s.sendall(
            f"POST /api/models/{repo_id}/commit/main HTTP/1.1\r\nHost: {u.netloc}\r\n"
            f"Authorization: Bearer {hub.token}\r\nContent-Type: application/x-ndjson\r\n"
            f"Content-Length: {len(body) + 1000}\r\n\r\n".encode()
            + body
        )
    assert _head_sha(hub, repo_id) == before


def test_concurrent_commits_never_lose_one(hub) -> None:
    repo_id = _create(hub)
    n = 12
    errors: list[str] = []

    def worker(i: int) -> None:
        r = _commit(hub, repo_id, [_header(f"c{i}"), _file(f"f{i}.txt", str(i).encode())])
        if r.status_code != 200:
            errors.append(r.text)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with hub.http(hub.token) as c:
        files = {e["path"] for e in c.get(f"/api/models/{repo_id}/tree/main").json()}
        commits = c.get(f"/api/models/{repo_id}/commits/main").json()
    assert {f"f{i}.txt" for i in range(n)} <= files
    assert len(commits) == n + 1


def test_preupload_answers_lfs_for_large_files_to_every_client(hub) -> None:
    repo_id = _create(hub)
    files = [
        {"path": "big.safetensors", "sample": base64.b64encode(b"\0" * 512).decode(), "size": 50_000_000},
        {"path": "c.json", "sample": base64.b64encode(b"{}").decode(), "size": 2},
    ]
    modes = {}
    for ua in (XET_UA, "unknown/None; hf_hub/1.19.0; python/3.11", XET_UA + "; upload/lfs", "modelhub/0.1"):
        with hub.http(hub.token) as c:
            r = c.post(
                f"/api/models/{repo_id}/preupload/main", json={"files": files}, headers={"user-agent": ua}
            )
            body = r.json()
        assert all(f["shouldIgnore"] is False for f in body["files"])
        modes[ua] = [f["uploadMode"] for f in body["files"]]
    # every client gets `lfs` for large files: the official client with hf_xet then uploads them through Xet
    assert all(m == ["lfs", "regular"] for m in modes.values()), modes
    with hub.http(hub.token) as c:
        r = c.get(f"/api/models/{repo_id}/xet-write-token/main")
        assert r.status_code == 200 and r.json()["casUrl"] == f"{hub.url}/cas"
        assert r.headers["x-xet-access-token"] == r.json()["accessToken"]


def test_first_run_token_and_openapi(hub) -> None:
    log = hub.log()
    assert "first start with an empty database" in log
    # output to a log file, not a terminal: the token is in a file only the owner may read, never in the log
    path = hub.data_dir / "first-run-token"
    token = path.read_text().strip()
    assert token.startswith("hf_") and token not in log and str(path) in log
    assert path.stat().st_mode & 0o777 == 0o600
    with hub.http(token) as c:
        me = c.get("/api/whoami-v2").json()
        assert me["name"] == "admin" and me["isAdmin"] is True
        spec = c.get("/openapi.json").json()
    assert "/api/whoami-v2" in spec["paths"]
    with hub.http(hub.token) as c:
        assert c.get("/api/whoami-v2").status_code == 200
    assert hub.token not in hub.log() and hub.read_token not in hub.log()  # tokens never reach the log


def test_admin_cli_errors(hub) -> None:
    with pytest.raises(RuntimeError, match="already taken"):
        hub.create_user("alice")
    with pytest.raises(RuntimeError, match="No user named"):
        hub.create_token("nobody-here")
    with pytest.raises(RuntimeError, match="Invalid account name"):
        hub.create_user("bad name")


def test_pagination_and_restart(tmp_path) -> None:
    """A server of its own (page size 3): Link pagination with absolute URLs, then a restart keeps everything."""
    server = HubServer(tmp_path / "data", extra_args=("--page-size", "3")).start()
    try:
        server.create_user("erin")
        token = server.create_token("erin")
        import httpx

        h = {"authorization": f"Bearer {token}"}
        r = httpx.post(f"{server.url}/api/repos/create", json={"name": "pg"}, headers=h)
        assert r.status_code == 200
        lines = [_header()] + [_file(f"d/f{i}.txt", b"%d" % i) for i in range(7)]
        body = "\n".join(json.dumps(x) for x in lines)
        r = httpx.post(f"{server.url}/api/models/erin/pg/commit/main", content=body, headers=h)
        assert r.status_code == 200, r.text
        seen = []
        url = f"{server.url}/api/models/erin/pg/tree/main?recursive=true&expand=false"
        while url:
            r = httpx.get(url, headers=h)
            seen += [e["path"] for e in r.json()]
            link = r.headers.get("link")
            url = link.split(";")[0].strip("<> ") if link else None
            assert url is None or url.startswith("http://")
        assert sorted(seen) == sorted([".gitattributes", "d"] + [f"d/f{i}.txt" for i in range(7)])
        for i in range(3):
            assert (
                httpx.post(f"{server.url}/api/repos/create", json={"name": f"more{i}"}, headers=h).status_code
                == 200
            )
        ids, url = [], f"{server.url}/api/models?author=erin"
        while url:
            r = httpx.get(url, headers=h)
            ids += [m["id"] for m in r.json()]
            link = r.headers.get("link")
            url = link.split(";")[0].strip("<> ") if link else None
        assert sorted(ids) == ["erin/more0", "erin/more1", "erin/more2", "erin/pg"]
        server.restart()
        r = httpx.get(f"{server.url}/erin/pg/resolve/main/d/f5.txt", headers=h)
        assert r.status_code == 200 and r.content == b"5"
        assert httpx.get(f"{server.url}/api/whoami-v2", headers=h).json()["name"] == "erin"
    finally:
        server.stop()


@local_storage_only("with S3 the download is a redirect: the hub streams nothing to finish")
def test_graceful_shutdown_finishes_in_flight_downloads(tmp_path) -> None:
    import httpx

    server = HubServer(tmp_path / "data").start()
    try:
        server.create_user("gus")
        token = server.create_token("gus")
        h = {"authorization": f"Bearer {token}"}
        assert httpx.post(f"{server.url}/api/repos/create", json={"name": "g"}, headers=h).status_code == 200
        data = os.urandom(40 * 1024 * 1024)
        oid = hashlib.sha256(data).hexdigest()
        r = httpx.post(
            f"{server.url}/g.git/info/lfs/objects/batch".replace("/g.git", "/gus/g.git"),
            json={"operation": "upload", "objects": [{"oid": oid, "size": len(data)}]},
            headers=h,
        )
        assert httpx.put(r.json()["objects"][0]["actions"]["upload"]["href"], content=data).status_code == 200
        lines = [
            _header(),
            {"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": oid, "size": len(data)}},
        ]
        body = "\n".join(json.dumps(x) for x in lines)
        assert (
            httpx.post(f"{server.url}/api/models/gus/g/commit/main", content=body, headers=h).status_code
            == 200
        )
        assert httpx.get(f"{server.url}/api/models/gus/g/auth-check", headers=h).json()["write"] is True
        got = bytearray()
        with httpx.stream("GET", f"{server.url}/gus/g/resolve/main/w.bin", headers=h, timeout=60) as resp:
            it = resp.iter_bytes(1 << 20)
            got += next(it)
            server.proc.terminate()  # SIGTERM while the body is still streaming
            for chunk in it:
                got += chunk
        assert bytes(got) == data
        # uvicorn re-raises the signal after its graceful shutdown: exit status -SIGTERM, after a clean stop
        assert server.proc.wait(timeout=30) in (0, -15)
        log = server.log()
        assert f'"GET /gus/g/resolve/main/w.bin" 200 {len(data)}B' in log
        assert "Application shutdown complete" in log
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{server.url}/api/health")
    finally:
        server.stop()


def test_admin_gc_deletes_only_unreferenced_files(hub) -> None:
    keep = _create(hub)
    assert _commit(hub, keep, [_header(), _file("kept.txt", b"still used")]).status_code == 200
    gone = _create(hub)
    orphan = os.urandom(1000)
    assert _commit(hub, gone, [_header(), _file("orphan.bin", orphan)]).status_code == 200
    with hub.http(hub.token) as c:
        ns, name = gone.split("/")
        assert (
            c.request("DELETE", "/api/repos/delete", json={"name": name, "organization": ns}).status_code
            == 200
        )
    sha = hashlib.sha256(orphan).hexdigest()
    assert sha in hub.server.stored_blobs()
    out = hub.server.admin("gc", "--min-age-hours", "0", "--dry-run")
    assert out.startswith("would delete") and sha in hub.server.stored_blobs()
    hub.server.admin("gc", "--min-age-hours", "0")
    assert sha not in hub.server.stored_blobs()
    with hub.http(hub.token) as c:
        assert c.get(f"/{keep}/resolve/main/kept.txt").content == b"still used"


def test_resolve_answers_never_go_stale_after_writes(hub) -> None:
    """Small resolve answers are cached: every write must be visible to the very next request."""
    repo_id = _create(hub, private=True)
    assert _commit(hub, repo_id, [_header(), _file("a.txt", b"one")]).status_code == 200
    import httpx

    url = f"{hub.url}/{repo_id}/resolve/main/a.txt"
    with hub.http(hub.token) as c:
        for expected in (b"two", b"three"):
            etag = c.head(url).headers["etag"]
            assert c.head(url).headers["etag"] == etag  # served from the cache
            assert _commit(hub, repo_id, [_header(), _file("a.txt", expected)]).status_code == 200
            assert c.head(url).headers["etag"] != etag
            assert c.get(url).content == expected
        assert httpx.head(url).status_code == 401  # anonymous, private repo
        ns, name = repo_id.split("/")
        assert c.put(f"/api/models/{repo_id}/settings", json={"visibility": "public"}).status_code == 200
        assert httpx.head(url).status_code == 200
        assert c.delete(f"/api/models/{repo_id}/branch/main").status_code == 403
        assert (
            _commit(hub, repo_id, [_header(), {"key": "deletedFile", "value": {"path": "a.txt"}}]).status_code
            == 200
        )
        assert c.head(url).headers["x-error-code"] == "EntryNotFound"
        assert (
            c.request("DELETE", "/api/repos/delete", json={"name": name, "organization": ns}).status_code
            == 200
        )
        assert c.head(url).headers["x-error-code"] == "RepoNotFound"


def test_openapi_lists_the_same_operations(hub) -> None:
    """The server's layout may change; the API it documents may not, silently (list checked in beside this)."""
    expected = (Path(__file__).parent / "openapi_operations.txt").read_text().split("\n")
    with hub.http() as c:
        spec = c.get("/openapi.json").json()
    ops = sorted(
        f"{m.upper()} {p} {o['operationId']}" for p, v in spec["paths"].items() for m, o in v.items()
    )
    assert ops == [line for line in expected if line]
