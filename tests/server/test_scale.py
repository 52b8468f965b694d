"""Many stateless server processes on one PostgreSQL database and one S3 bucket (real servers: tests/_services.py).

Three ``modelhub serve`` processes share the database and the bucket. Proven here: 8 client processes x 25 commits
to one branch through them lose nothing and keep the history linear, also with ``parent_commit`` (every 2xx kept,
conflicts 409/412); a revoked token and a repo turned private stop at once on every process (their caches are
checked against the database's write generation); large files go to S3 and come back through a presigned redirect
(curl, the official client, ours); a server killed with SIGKILL mid-upload leaves nothing visible and nothing
``admin gc`` does not collect.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .._hub import HubServer
from .._services import pg_s3_storage, s3
from ._lfs import batch, commit, file_line, lfs_line

pytestmark = pytest.mark.slow


class Cluster:
    def __init__(self, servers: list[HubServer], token: str, store: str) -> None:
        self.servers = servers
        self.token = token
        self.store = store
        self.prefix = store.removeprefix(f"s3://{s3().bucket}/") + "/"

    def http(self, i: int, token: str | None = "") -> httpx.Client:
        tok = self.token if token == "" else token
        headers = {"authorization": f"Bearer {tok}"} if tok else {}
        return httpx.Client(base_url=self.servers[i].url, headers=headers, timeout=120)

    def objects(self, under: str = "") -> list[str]:
        return s3().keys(self.prefix + under)

    def multipart_uploads(self) -> list[dict]:
        return s3().multipart_uploads(self.prefix)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    flags, env = pg_s3_storage()
    base = tmp_path_factory.mktemp("cluster")
    servers = [HubServer(base / f"data{i}", extra_args=flags, env=env) for i in range(3)]
    try:
        for s in servers:
            s.start()
        servers[0].create_user("alice")
        token = servers[0].create_token("alice", "write")
        yield Cluster(servers, token, flags[3])
    finally:
        for s in servers:
            s.stop()


def _create_repo(c: httpx.Client, name: str) -> str:
    assert c.post("/api/repos/create", json={"name": name}).status_code == 200
    return f"alice/{name}"


def _history(c: httpx.Client, repo: str) -> list[dict]:
    r = c.get(f"/api/models/{repo}/commits/main", params={"limit": 1000})
    assert r.status_code == 200
    return r.json()


def _linear(c: httpx.Client, repo: str) -> list[str]:
    """The ids of main's history, first-parent order, after checking each commit has exactly one parent."""
    ids = [x["id"] for x in _history(c, repo)]
    # the commit list is newest first; the tree of each commit's parent is one commit older
    for newer, older in zip(ids, ids[1:], strict=False):
        r = c.get(f"/api/models/{repo}/commits/{newer}", params={"limit": 2})
        assert [x["id"] for x in r.json()[:2]] == [newer, older]
    return ids


WORKER = textwrap.dedent(
    """
    import base64, json, sys, httpx
    url, token, repo, who, count, use_parent = sys.argv[1:7]
    h = {"authorization": f"Bearer {token}"}
    out = []
    with httpx.Client(base_url=url, headers=h, timeout=120) as c:
        for i in range(int(count)):
            value = {"summary": f"{who}-{i}", "description": ""}
            if use_parent == "1":
                value["parentCommit"] = c.get(f"/api/models/{repo}/revision/main").json()["sha"]
            lines = [{"key": "header", "value": value},
                     {"key": "file", "value": {"path": f"{who}/{i}.txt", "encoding": "base64",
                      "content": base64.b64encode(f"{who} {i}".encode()).decode()}}]
            r = c.post(f"/api/models/{repo}/commit/main", headers={"content-type": "application/x-ndjson"},
                       content="\\n".join(json.dumps(x) for x in lines).encode())
            out.append([r.status_code, r.json().get("commitOid") if r.status_code == 200 else None])
    print(json.dumps(out))
    """
)


def _race(cluster: Cluster, repo: str, use_parent: bool) -> list[list]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, cluster.servers[i % 3].url, cluster.token, repo, f"w{i}", "25"]
            + ["1" if use_parent else "0"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(8)
    ]
    results = []
    for p in procs:
        out, _ = p.communicate(timeout=600)
        assert p.returncode == 0
        results.append(json.loads(out))
    return results


def test_race_8_clients_x_25_commits_through_3_processes(cluster: Cluster) -> None:
    with cluster.http(0) as c:
        repo = _create_repo(c, "race")
        start = len(_history(c, repo))
        results = _race(cluster, repo, use_parent=False)
        assert all(status == 200 for r in results for status, _ in r)  # rebuilt on the new head, never lost
        ids = _linear(c, repo)
        assert len(ids) == start + 200
        assert {oid for r in results for _, oid in r} <= set(ids)
        files = {f["path"] for f in c.get(f"/api/models/{repo}/tree/main", params={"recursive": "1"}).json()}
        assert {f"w{w}/{i}.txt" for w in range(8) for i in range(25)} <= files | {
            f"w{w}" for w in range(8)
        } or all(
            c.head(f"/{repo}/resolve/main/w{w}/{i}.txt").status_code == 200 for w in range(8) for i in (0, 24)
        )


def test_race_with_parent_commit_keeps_every_2xx(cluster: Cluster) -> None:
    with cluster.http(1) as c:
        repo = _create_repo(c, "race-parent")
        start = len(_history(c, repo))
        results = _race(cluster, repo, use_parent=True)
        statuses = [status for r in results for status, _ in r]
        assert set(statuses) <= {200, 409, 412}, statuses
        kept = [oid for r in results for status, oid in r if status == 200]
        assert kept
        ids = _linear(c, repo)
        assert set(kept) <= set(ids) and len(ids) == start + len(kept)


def test_revoked_token_and_private_repo_stop_at_once_on_every_process(cluster: Cluster) -> None:
    with cluster.http(0) as c:
        repo = _create_repo(c, "visible")
        assert commit(c, repo, [file_line("a.txt", b"a")]).status_code == 200
    token = cluster.servers[0].create_token("alice", "read")
    cluster.servers[0].create_user("vis-outsider")
    outsider = cluster.servers[0].create_token("vis-outsider", "read")
    for i in range(3):
        with cluster.http(i, token) as c, cluster.http(i, None) as anon, cluster.http(i, outsider) as other:
            for _ in range(2):  # the second answer comes from the process's caches
                assert c.get("/api/whoami-v2").status_code == 200
                assert c.get(f"/{repo}/resolve/main/a.txt").status_code == 200
                assert anon.get(f"/{repo}/resolve/main/a.txt").status_code == 200
                assert anon.get(f"/api/models/{repo}").status_code == 200
                assert other.get(f"/{repo}/resolve/main/a.txt").status_code == 200
                assert other.get(f"/api/models/{repo}").status_code == 200
    with cluster.http(0) as c:
        assert c.put(f"/api/models/{repo}/settings", json={"private": True}).status_code == 200
    for i in (1, 2):  # the very next request through another process
        with cluster.http(i, None) as anon, cluster.http(i, outsider) as other:
            # first a token's request: it syncs the caches with the generation read along with its token
            assert other.get(f"/{repo}/resolve/main/a.txt").status_code == 404
            assert other.get(f"/api/models/{repo}").status_code == 404
            assert anon.get(f"/{repo}/resolve/main/a.txt").status_code == 401
            assert anon.get(f"/api/models/{repo}").status_code == 401
    token_id = cluster.servers[1].admin("token", "list", "alice").splitlines()[-1].split("\t")[0]
    cluster.servers[1].admin("token", "revoke", token_id)
    for i in range(3):
        with cluster.http(i, token) as c:
            assert c.get("/api/whoami-v2").status_code == 401
            assert c.get(f"/{repo}/resolve/main/a.txt").status_code == 401


def test_downloads_and_likes_counted_on_one_process_show_on_the_others(cluster: Cluster) -> None:
    with cluster.http(0) as c:
        repo = _create_repo(c, "counted")
        assert commit(c, repo, [file_line("config.json", b"{}")]).status_code == 200
        for _ in range(3):  # config.json is a model's query file: each GET is one download
            assert c.get(f"/{repo}/resolve/main/config.json").status_code == 200
    with cluster.http(1) as other:
        for _ in range(2):  # the second answer comes from process 1's caches
            assert other.get(f"/api/models/{repo}").json()["likes"] == 0
        with cluster.http(0) as c:
            assert c.post(f"/api/models/{repo}/like").status_code == 200
        # a like is a database write: the next answer of every process counts it
        assert other.get(f"/api/models/{repo}").json()["likes"] == 1
        # counts reach the table within a flush interval (2 s) and other processes within 1 s more
        deadline = time.monotonic() + 15
        while other.get(f"/api/models/{repo}").json()["downloads"] != 3:
            assert time.monotonic() < deadline, "process 1 never saw the downloads served by process 0"
            time.sleep(0.25)
        assert (
            other.get(f"/api/models/{repo}", params={"expand": "downloadsAllTime"}).json()["downloadsAllTime"]
            == 3
        )


def test_large_files_live_in_s3_and_download_through_a_presigned_redirect(
    cluster: Cluster, tmp_path: Path
) -> None:
    import huggingface_hub as hf

    from modelhub import hub_download

    data = os.urandom(24 * 2**20 + 17)  # more than one multipart part
    oid = hashlib.sha256(data).hexdigest()
    with cluster.http(2) as c:
        repo = _create_repo(c, "bytes")
        item = batch(c, repo, "upload", oid, len(data)).json()["objects"][0]
        bad = httpx.put(item["actions"]["upload"]["href"], content=data[:-1] + b"x", timeout=120)
        assert bad.status_code == 400  # wrong content: refused, and nothing under the blob key
        assert not [k for k in cluster.objects() if k.endswith(oid)] and not cluster.multipart_uploads()
        assert httpx.put(item["actions"]["upload"]["href"], content=data, timeout=120).status_code == 200
        assert (
            commit(c, repo, [lfs_line("big.bin", oid, len(data)), file_line("small.txt", b"hi")]).status_code
            == 200
        )
        assert [k for k in cluster.objects() if k.endswith(oid)] == [
            f"{cluster.prefix}{oid[:2]}/{oid[2:4]}/{oid}"
        ]
        r = c.get(f"/{repo}/resolve/main/big.bin")
        assert r.status_code == 302 and r.headers["location"].startswith(s3().endpoint)
        assert "X-Amz-Signature=" in r.headers["location"] and "X-Amz-Expires=900" in r.headers["location"]
        assert r.headers["x-linked-size"] == str(len(data))
        small = c.get(f"/{repo}/resolve/main/small.txt")
        assert small.status_code == 200 and small.content == b"hi"  # small files inline
    url = f"{cluster.servers[0].url}/{repo}/resolve/main/big.bin"
    out = tmp_path / "curl.bin"
    subprocess.run(
        ["curl", "-sSfL", "-H", f"authorization: Bearer {cluster.token}", "-o", str(out), url], check=True
    )
    assert hashlib.sha256(out.read_bytes()).hexdigest() == oid
    ours = hub_download(
        repo, "big.bin", endpoint=cluster.servers[1].url, token=cluster.token, cache_dir=tmp_path / "a"
    )
    theirs = hf.hf_hub_download(
        repo, "big.bin", endpoint=cluster.servers[2].url, token=cluster.token, cache_dir=tmp_path / "b"
    )
    assert Path(ours).read_bytes() == data and Path(theirs).read_bytes() == data


def test_kill_9_mid_upload_leaves_nothing_visible_and_gc_collects_it(cluster: Cluster) -> None:
    data_size = 64 * 2**20
    oid = hashlib.sha256(b"\x00" * data_size).hexdigest()
    victim = cluster.servers[1]
    with cluster.http(1) as c:
        repo = _create_repo(c, "killed")
        href = batch(c, repo, "upload", oid, data_size).json()["objects"][0]["actions"]["upload"]["href"]
    sent = threading.Event()

    def body() -> Iterator[bytes]:
        for i in range(data_size // 2**20):
            yield b"\x00" * 2**20
            if i == 40:
                sent.set()
                time.sleep(30)  # the server dies meanwhile

    def upload() -> None:
        try:
            httpx.put(href, content=body(), headers={"content-length": str(data_size)}, timeout=60)
        except httpx.HTTPError:
            pass

    t = threading.Thread(target=upload, daemon=True)
    t.start()
    assert sent.wait(60)
    time.sleep(1.0)  # let the parts that arrived reach S3
    assert cluster.multipart_uploads()  # an upload in progress...
    assert victim.proc is not None
    victim.proc.send_signal(signal.SIGKILL)
    victim.proc.wait()
    victim.proc = None
    for i in (0, 2):  # the others keep serving, and nothing of the object is visible
        with cluster.http(i) as c:
            assert c.get("/api/whoami-v2").status_code == 200
            assert commit(c, repo, [lfs_line("z.bin", oid, data_size)]).status_code in (400, 403, 404, 422)
            item = batch(c, repo, "upload", oid, data_size).json()["objects"][0]
            assert "upload" in item["actions"]  # not stored
    assert not [k for k in cluster.objects() if k.endswith(oid)]
    victim.start()
    assert cluster.multipart_uploads()  # start-up spares young uploads: other processes may own them
    out = victim.admin("gc", "--min-age-hours", "0")
    assert "deleted" in out
    assert not cluster.multipart_uploads() and not cluster.objects("tmp/")
    with cluster.http(1) as c:
        assert c.get("/api/whoami-v2").status_code == 200


def test_serve_workers_share_one_port(tmp_path: Path) -> None:
    flags, env = pg_s3_storage()
    server = HubServer(tmp_path / "data", extra_args=(*flags, "--workers", "2"), env=env).start()
    try:
        server.create_user("wally")
        token = server.create_token("wally")
        pids = set()
        with httpx.Client(base_url=server.url, headers={"authorization": f"Bearer {token}"}, timeout=60) as c:
            assert c.post("/api/repos/create", json={"name": "w"}).status_code == 200
            for i in range(6):
                assert commit(c, "wally/w", [file_line(f"{i}.txt", b"x")]).status_code == 200
            assert len(_history(c, "wally/w")) == 7
        log = server.log()
        pids = {
            line.split("[")[1].split("]")[0] for line in log.splitlines() if "Started server process" in line
        }
        assert len(pids) == 2
    finally:
        server.stop()
