"""LFS multipart and basic transfer (protocol 5.5) against a small protocol peer standing in for huggingface.co.

Our own server offers only the basic transfer; huggingface.co answers large objects with multipart. This peer is
a real HTTP server on a socket implementing the batch, part-PUT, completion and verify endpoints as the protocol
describes (it assembles the parts and checks the sha256), so the client's multipart path is exercised end to end.
"""

import hashlib
import http.server as stdlib_http
import json
import os
import threading
from pathlib import Path

import pytest

from modelhub import errors
from modelhub.client import CommitOperationAdd
from modelhub.client.lfs import LfsUploadError, upload_lfs_files

CHUNK = 1024 * 1024


class Peer(stdlib_http.BaseHTTPRequestHandler):
    store: dict = {}
    parts: dict = {}
    log: list = []
    base = ""
    multipart = True
    public_links = False  # answer with hrefs on https://huggingface.co, as a hub behind a mirror endpoint may

    def log_message(self, *args):
        pass

    def _json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/vnd.git-lfs+json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self):
        return self.rfile.read(int(self.headers.get("content-length", 0)))

    def do_POST(self):
        Peer.log.append(("POST", self.path, self.headers.get("authorization")))
        body = json.loads(self._body() or b"{}")
        if self.path.endswith("/info/lfs/objects/batch"):
            base = "https://huggingface.co" if Peer.public_links else Peer.base
            out = []
            for obj in body["objects"]:
                oid, size = obj["oid"], obj["size"]
                if oid in Peer.store:
                    out.append({"oid": oid, "size": size})
                    continue
                if size == 13:
                    out.append({"oid": oid, "size": size, "error": {"code": 422, "message": "unlucky size"}})
                    continue
                if Peer.multipart:
                    n = -(-size // CHUNK)
                    header = {
                        "chunk_size": str(CHUNK),
                        **{str(i + 1): f"{base}/part/{oid}/{i + 1}" for i in range(n)},
                    }
                    upload = {"href": f"{base}/complete/{oid}", "header": header}
                else:
                    upload = {"href": f"{base}/put/{oid}"}
                out.append(
                    {
                        "oid": oid,
                        "size": size,
                        "actions": {"upload": upload, "verify": {"href": f"{base}/verify"}},
                    }
                )
            self._json(200, {"transfer": "basic", "objects": out})
        elif self.path.startswith("/complete/"):
            oid = self.path.rsplit("/", 1)[1]
            parts = Peer.parts.pop(oid)
            data = b"".join(parts[p["partNumber"]] for p in body["parts"])
            assert [p["etag"] for p in body["parts"]] == [f'"etag-{p["partNumber"]}"' for p in body["parts"]]
            if hashlib.sha256(data).hexdigest() != oid:
                self._json(400, {"message": "hash mismatch"})
                return
            Peer.store[oid] = data
            self._json(200, {})
        elif self.path == "/verify":
            ok = body["oid"] in Peer.store and len(Peer.store[body["oid"]]) == body["size"]
            self._json(200 if ok else 404, {})

    def do_PUT(self):
        Peer.log.append(("PUT", self.path, self.headers.get("authorization")))
        data = self._body()
        if self.path.startswith("/part/"):
            _, _, oid, num = self.path.split("/")
            Peer.parts.setdefault(oid, {})[int(num)] = data
            self.send_response(200)
            self.send_header("etag", f'"etag-{num}"')
        else:
            oid = self.path.rsplit("/", 1)[1]
            assert hashlib.sha256(data).hexdigest() == oid
            Peer.store[oid] = data
            self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()


@pytest.fixture
def peer(monkeypatch):
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    srv = stdlib_http.ThreadingHTTPServer(("127.0.0.1", 0), Peer)
    Peer.base = f"http://127.0.0.1:{srv.server_address[1]}"
    Peer.store, Peer.parts, Peer.log, Peer.multipart, Peer.public_links = {}, {}, [], True, False
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield Peer
    srv.shutdown()
    srv.server_close()


def _upload(peer, ops):
    return upload_lfs_files(
        ops,
        endpoint=peer.base,
        repo_id="alice/m",
        repo_type="model",
        revision="main",
        headers={"authorization": "Bearer hf_secret"},
        num_threads=2,
    )


def test_multipart_upload_then_skip(peer, tmp_path):
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(3 * CHUNK + 12345))
    op = CommitOperationAdd("big.bin", path)
    counts = _upload(peer, [op])
    assert counts == {"uploaded": 1, "skipped": 0, "bytes": path.stat().st_size}
    assert peer.store[op.upload_info.sha256] == path.read_bytes()
    puts = [e for e in peer.log if e[0] == "PUT"]
    assert len(puts) == 4 and all(auth is None for _, _, auth in puts)  # part URLs are self-authorising
    complete = [e for e in peer.log if e[1].startswith("/complete/")]
    assert complete and complete[0][2] is None
    batch, verify = peer.log[0], [e for e in peer.log if e[1] == "/verify"][0]
    assert batch[2] == "Bearer hf_secret" and verify[2] == "Bearer hf_secret"
    peer.log.clear()
    assert _upload(peer, [CommitOperationAdd("again.bin", path)]) == {"uploaded": 0, "skipped": 1, "bytes": 0}
    assert [e[0] for e in peer.log] == ["POST"]  # only the batch call: nothing sent


@pytest.mark.parametrize("multipart", [True, False])
def test_public_hub_links_are_rewritten_to_the_endpoint(peer, multipart):
    """hrefs on https://huggingface.co (part URLs, completion, verify) are sent to the endpoint in use instead."""
    peer.multipart, peer.public_links = multipart, True
    op = CommitOperationAdd("a.bin", os.urandom(CHUNK + 10))
    assert _upload(peer, [op])["uploaded"] == 1
    assert peer.store[op.upload_info.sha256] == op.path_or_fileobj
    paths = [path for _, path, _ in peer.log]
    assert paths[0] == "/alice/m.git/info/lfs/objects/batch" and "/verify" in paths
    assert len([m for m, _, _ in peer.log if m == "PUT"]) == (2 if multipart else 1)


def test_basic_upload_and_batch_errors(peer):
    peer.multipart = False
    op = CommitOperationAdd("a.bin", os.urandom(50_000))
    assert _upload(peer, [op])["uploaded"] == 1 and op.upload_info.sha256 in peer.store
    with pytest.raises(LfsUploadError, match="unlucky size"):
        _upload(peer, [CommitOperationAdd("b.bin", b"13 bytes long")])
    assert isinstance(LfsUploadError("x"), errors.HubError)


class Cdn(stdlib_http.BaseHTTPRequestHandler):
    """Another origin serving a blob (like huggingface.co's CDN / Xet bridge); records what it was sent."""

    content = b""
    seen: list = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        Cdn.seen.append(dict(self.headers))
        self.send_response(200)
        self.send_header("content-length", str(len(Cdn.content)))
        self.end_headers()
        self.wfile.write(Cdn.content)


class Resolver(stdlib_http.BaseHTTPRequestHandler):
    """A hub front answering /resolve with a 302 to the CDN (protocol 6.3)."""

    cdn = ""
    commit = "c" * 40
    seen: list = []

    def log_message(self, *args):
        pass

    def _redirect(self):
        Resolver.seen.append((self.command, self.path, self.headers.get("authorization")))
        self.send_response(302)
        self.send_header("location", f"{Resolver.cdn}/blob/{hashlib.sha256(Cdn.content).hexdigest()}?sig=x")
        self.send_header("x-repo-commit", Resolver.commit)
        self.send_header("x-linked-etag", f'"{hashlib.sha256(Cdn.content).hexdigest()}"')
        self.send_header("x-linked-size", str(len(Cdn.content)))
        self.send_header("content-length", "0")
        self.end_headers()

    do_HEAD = do_GET = _redirect


def test_download_redirected_to_another_origin_drops_the_token(tmp_path, monkeypatch):
    from modelhub.client import hub_download

    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    Cdn.content, Cdn.seen, Resolver.seen = os.urandom(300_000), [], []
    servers = [stdlib_http.ThreadingHTTPServer(("127.0.0.1", 0), h) for h in (Cdn, Resolver)]
    for srv in servers:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    Resolver.cdn = f"http://127.0.0.1:{servers[0].server_address[1]}"
    endpoint = f"http://127.0.0.1:{servers[1].server_address[1]}"
    try:
        path = hub_download("alice/m", "w.bin", endpoint=endpoint, token="hf_secret", cache_dir=tmp_path)
    finally:
        for srv in servers:
            srv.shutdown()
            srv.server_close()
    assert Path(path).read_bytes() == Cdn.content
    assert Resolver.seen[0][0] == "HEAD" and Resolver.seen[0][2] == "Bearer hf_secret"
    assert len(Cdn.seen) == 1 and not any(k.lower() == "authorization" for k in Cdn.seen[0])
    assert f"snapshots/{Resolver.commit}/w.bin" in path


class Hostile(stdlib_http.BaseHTTPRequestHandler):
    """A hub answering with names that would escape the cache or a local_dir if used as paths."""

    commit = "e" * 40
    commit_header = "e" * 40
    etag = '"' + "1" * 40 + '"'
    tree = [{"type": "file", "path": "../../escape.txt", "oid": "2" * 40, "size": 1}]

    def log_message(self, *args):
        pass

    def _send(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        if "/revision/" in self.path:
            self._send(200, json.dumps({"id": "alice/m", "sha": Hostile.commit}).encode())
        elif "/tree/" in self.path:
            self._send(200, json.dumps(Hostile.tree).encode())
        else:
            self._send(200, b"x", [("x-repo-commit", Hostile.commit_header), ("etag", Hostile.etag)])

    do_HEAD = do_GET


GOOD_ETAG = hashlib.sha1(b"blob 1\0x").hexdigest()  # the git blob id of the b"x" the hostile hub serves


@pytest.mark.parametrize(
    ("commit_header", "etag", "tree_path"),
    [
        ("../../../outside", GOOD_ETAG, "ok.txt"),  # X-Repo-Commit used as a snapshot folder name
        ("e" * 40, "../../outside", "ok.txt"),  # ETag used as a blob name
        ("e" * 40, GOOD_ETAG, "../../escape.txt"),  # a tree path used under snapshots/ or local_dir
    ],
)
def test_a_hostile_hub_cannot_write_outside_the_cache(tmp_path, monkeypatch, commit_header, etag, tree_path):
    from modelhub.client import hub_download, snapshot_download

    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    Hostile.commit_header, Hostile.etag = commit_header, f'"{etag}"'
    Hostile.tree = [{"type": "file", "path": tree_path, "oid": etag, "size": 1}]
    srv = stdlib_http.ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{srv.server_address[1]}"
    cache, local = tmp_path / "a" / "b" / "cache", tmp_path / "a" / "b" / "local"
    refused = (errors.FileMetadataError, errors.LocalEntryNotFoundError)
    try:
        if tree_path == "ok.txt":
            with pytest.raises(refused, match="unusable ETag|as a commit id"):
                hub_download("alice/m", "ok.txt", endpoint=endpoint, cache_dir=cache)
            with pytest.raises(refused, match="unusable ETag|as a commit id"):
                hub_download("alice/m", "ok.txt", endpoint=endpoint, local_dir=local)
        else:
            with pytest.raises(errors.FileMetadataError, match="Refusing the path '../../escape.txt'"):
                snapshot_download("alice/m", endpoint=endpoint, cache_dir=cache)
            with pytest.raises(errors.FileMetadataError, match="Refusing the path"):
                snapshot_download("alice/m", endpoint=endpoint, cache_dir=tmp_path / "c2", local_dir=local)
    finally:
        srv.shutdown()
        srv.server_close()
    written = [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()]
    assert not [p for p in written if not p.startswith(("a/b/cache/", "a/b/local/", "c2/"))], written
