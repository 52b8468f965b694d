"""The HTTP layer: error mapping from X-Error-Code/status, headers, and retries against a real local socket."""

import http.server as stdlib_http
import json
import threading

import httpx
import pytest

from modelhub import errors
from modelhub.client import http


def _response(status, headers=None, body=None, url="http://127.0.0.1:1/api/models/alice/m1", auth=True):
    request = httpx.Request("GET", url, headers={"authorization": "Bearer x"} if auth else {})
    content = json.dumps(body).encode() if body is not None else b""
    return httpx.Response(status, headers=headers or {}, content=content, request=request)


CTX = http.Context(
    repo_id="alice/m1", repo_type="model", revision="v9", filename="w.bin", endpoint="http://h"
)


@pytest.mark.parametrize(
    ("status", "code", "cls", "text"),
    [
        (404, "RevisionNotFound", errors.RevisionNotFoundError, "Revision 'v9' not found in 'alice/m1'"),
        (404, "EntryNotFound", errors.RemoteEntryNotFoundError, "File 'w.bin' not found"),
        (404, "RepoNotFound", errors.RepositoryNotFoundError, "it is private and your token cannot see it"),
        (403, "GatedRepo", errors.GatedRepoError, "gated"),
        (401, None, errors.UnauthorizedError, "invalid or expired"),
        (403, None, errors.ForbiddenError, "write access"),
        (400, None, errors.BadRequestError, "Bad request"),
        (409, None, errors.ConflictError, "Conflict"),
        (412, None, errors.ConflictError, "Conflict"),
        (500, None, errors.HfHubHTTPError, "500"),
    ],
)
def test_error_mapping(status, code, cls, text):
    headers = {"x-error-code": code} if code else {}
    with pytest.raises(cls, match=text) as info:
        http.raise_for_status(
            _response(status, {**headers, "x-request-id": "rid-1"}, {"error": "server words"}), CTX
        )
    exc = info.value
    assert isinstance(exc, errors.HubError) and isinstance(exc, OSError)
    assert exc.server_message == "server words" and exc.request_id == "rid-1" and exc.status_code == status
    assert "server words" in str(exc)


def test_entry_not_found_is_both_kinds():
    with pytest.raises(errors.EntryNotFoundError):
        http.raise_for_status(_response(404, {"x-error-code": "EntryNotFound"}), CTX)


def test_anonymous_repo_not_found_hints_at_login():
    with pytest.raises(errors.RepositoryNotFoundError, match="pass a token"):
        http.raise_for_status(_response(401, {"x-error-code": "RepoNotFound"}, auth=False), CTX)


def test_error_body_shapes():
    r = _response(400, {"x-error-message": "hdr"}, {"error": ["a", "b"], "error_description": "c"})
    with pytest.raises(errors.BadRequestError) as info:
        http.raise_for_status(r)
    assert info.value.server_message == "hdr a b c"
    r = _response(400, body={"errors": [{"message": "bad yaml"}]})
    with pytest.raises(errors.BadRequestError, match="bad yaml"):
        http.raise_for_status(r)


def test_disabled_repo():
    with pytest.raises(errors.DisabledRepoError):
        http.raise_for_status(
            _response(403, {"x-error-message": "Access to this resource is disabled."}), CTX
        )


def test_headers(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    h = http.build_headers("hf_x", library_name="mylib", library_version="1.2", user_agent_extra={"k": "v"})
    assert h["authorization"] == "Bearer hf_x"
    assert h["user-agent"].startswith("mylib/1.2; modelhub/") and h["user-agent"].endswith("k/v")
    assert "hf_hub/" not in h["user-agent"]  # we are not the official client: the server may steer us to LFS
    assert "authorization" not in http.build_headers(False)
    assert http.quote_segment("refs/pr/1") == "refs%2Fpr%2F1"
    assert http.quote_path("sub dir/x.bin") == "sub%20dir/x.bin"


class _Handler(stdlib_http.BaseHTTPRequestHandler):
    script: list = []
    seen: list = []

    def _answer(self):
        type(self).seen.append((self.command, self.path))
        status = type(self).script.pop(0) if type(self).script else 200
        self.send_response(status)
        body = b'{"ok": true}' if status == 200 else b'{"error": "nope"}'
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def local_server(monkeypatch):
    monkeypatch.setenv("MODELHUB_RETRY_BACKOFF", "0.01")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    srv = stdlib_http.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    _Handler.script, _Handler.seen = [], []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_retries_5xx_and_429_then_succeeds(local_server):
    _Handler.script = [503, 429, 502]
    r = http.request("GET", local_server + "/x")
    assert r.json() == {"ok": True} and len(_Handler.seen) == 4


def test_streamed_get_retries_5xx_but_not_4xx(local_server):
    _Handler.script = [503, 500, 200]
    with http.stream("GET", local_server + "/blob") as response:
        assert response.read() == b'{"ok": true}'
    assert len(_Handler.seen) == 3
    _Handler.script, _Handler.seen = [403, 200], []
    with pytest.raises(errors.ForbiddenError), http.stream("GET", local_server + "/blob"):
        pass
    assert len(_Handler.seen) == 1


def test_each_request_gets_its_own_trace_id(local_server):
    headers = http.build_headers(False)  # built once, reused for several calls (pages, files)
    ids = {
        http.request("GET", local_server + "/x", headers=headers).request.headers["x-amzn-trace-id"]
        for _ in "ab"
    }
    with http.stream("GET", local_server + "/y", headers=headers) as response:
        ids.add(response.request.headers["x-amzn-trace-id"])
    assert len(ids) == 3 and "x-amzn-trace-id" not in headers


def test_never_retries_4xx(local_server):
    _Handler.script = [404, 200]
    with pytest.raises(errors.HfHubHTTPError):
        http.request("GET", local_server + "/x")
    assert len(_Handler.seen) == 1


def test_non_idempotent_post_not_retried_on_5xx(local_server):
    _Handler.script = [500, 200]
    with pytest.raises(errors.HfHubHTTPError):
        http.request("POST", local_server + "/commit", json={})
    assert len(_Handler.seen) == 1
    _Handler.script, _Handler.seen = [500], []
    assert http.request("POST", local_server + "/batch", json={}, idempotent=True).status_code == 200
    assert len(_Handler.seen) == 2


def test_gives_up_after_max_retries(local_server, monkeypatch):
    monkeypatch.setenv("MODELHUB_MAX_RETRIES", "2")
    _Handler.script = [503, 503, 503, 503]
    with pytest.raises(errors.HfHubHTTPError, match="503"):
        http.request("GET", local_server + "/x")
    assert len(_Handler.seen) == 3


def test_unreachable_and_offline(monkeypatch):
    monkeypatch.setenv("MODELHUB_RETRY_BACKOFF", "0.01")
    monkeypatch.setenv("MODELHUB_MAX_RETRIES", "1")
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there
    with pytest.raises(errors.HubConnectionError, match="Could not reach 127.0.0.1"):
        http.request("GET", f"http://127.0.0.1:{port}/api/x")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(errors.OfflineModeIsEnabled, match="HF_HUB_OFFLINE"):
        http.request("GET", f"http://127.0.0.1:{port}/api/x")


@pytest.mark.parametrize(
    ("url", "message", "cls"),
    [
        ("https://hub.example/api/models/alice/m1", None, errors.RepositoryNotFoundError),
        ("https://hub.example/alice/m1/resolve/main/w.bin", None, errors.RepositoryNotFoundError),
        (
            "https://hub.example/api/models/alice/m1",
            "Invalid credentials in Authorization header",
            errors.UnauthorizedError,
        ),
        ("https://hub.example/api/whoami-v2", None, errors.UnauthorizedError),
        ("http://hub.example/api/models/alice/m1", None, errors.UnauthorizedError),
    ],
)
def test_https_401_without_code_means_repo_not_found(url, message, cls):
    """huggingface.co hides a private repo behind a bare 401 (protocol 7); a rejected token stays a 401."""
    headers = {"x-error-message": message} if message else {}
    with pytest.raises(cls) as info:
        http.raise_for_status(_response(401, headers, {"error": "nope"}, url=url), CTX)
    assert type(info.value) is cls
    if cls is errors.RepositoryNotFoundError:
        assert "'alice/m1' not found on http://h (or it is private and your token cannot see it)" in str(
            info.value
        )


def test_public_hub_urls_in_answers_follow_the_endpoint():
    from modelhub.client.types import CommitInfo, RepoUrl, on_endpoint

    mirror = "http://127.0.0.1:8000"
    assert on_endpoint("https://huggingface.co/alice/m1", mirror) == f"{mirror}/alice/m1"
    assert (
        on_endpoint("https://huggingface.co.evil/alice/m1", mirror) == "https://huggingface.co.evil/alice/m1"
    )
    assert (
        on_endpoint("https://huggingface.co/alice/m1", "https://huggingface.co")
        == "https://huggingface.co/alice/m1"
    )
    url = RepoUrl("https://huggingface.co/datasets/alice/d1", endpoint=mirror)
    assert url == f"{mirror}/datasets/alice/d1" and url.repo_type == "dataset" and url.repo_id == "alice/d1"
    info = CommitInfo(
        f"https://huggingface.co/alice/m1/commit/{'a' * 40}",
        "msg",
        "",
        "a" * 40,
        "https://huggingface.co/alice/m1/discussions/3",
        endpoint=mirror,
    )
    assert info.commit_url.startswith(mirror) and info.pr_url == f"{mirror}/alice/m1/discussions/3"
    assert info.repo_url.repo_id == "alice/m1" and info.pr_revision == "refs/pr/3"


class _Gated(stdlib_http.BaseHTTPRequestHandler):
    """A hub front for a gated repo (our server has no gating): every repo call answers 403 GatedRepo."""

    def _answer(self):
        body = b'{"error": "Access to this model is restricted"}'
        self.send_response(403)
        self.send_header("x-error-code", "GatedRepo")
        self.send_header("content-type", "application/json")
        self.send_header("content-length", "0" if self.command == "HEAD" else str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = _answer

    def log_message(self, *args):
        pass


def test_gated_repo_exists_but_its_files_need_access(monkeypatch):
    from modelhub.client import HubApi

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    srv = stdlib_http.ThreadingHTTPServer(("127.0.0.1", 0), _Gated)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        api = HubApi(endpoint=f"http://127.0.0.1:{srv.server_address[1]}", token="hf_x")
        assert api.repo_exists("alice/gated")  # gated: it exists, access is another matter
        with pytest.raises(errors.GatedRepoError, match="request access"):
            api.file_exists("alice/gated", "config.json")
    finally:
        srv.shutdown()
        srv.server_close()


class _Busy(stdlib_http.BaseHTTPRequestHandler):
    """huggingface.co's answer while another operation on the repo runs: 409 "conflicting operation", then OK."""

    busy_left = 0
    calls = 0

    def do_POST(self):
        type(self).calls += 1
        self.rfile.read(int(self.headers.get("content-length", 0)))
        if type(self).busy_left > 0:
            type(self).busy_left -= 1
            status, body = 409, {"error": "Cannot create repo: another conflicting operation is in progress"}
        else:
            status, body = 200, {"url": "https://huggingface.co/alice/busy"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_create_repo_waits_out_a_busy_hub(monkeypatch):
    from modelhub.client import HubApi

    monkeypatch.setenv("MODELHUB_RETRY_BACKOFF", "0.01")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    srv = stdlib_http.ThreadingHTTPServer(("127.0.0.1", 0), _Busy)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{srv.server_address[1]}"
    try:
        _Busy.busy_left, _Busy.calls = 2, 0
        url = HubApi(endpoint=endpoint, token="hf_x").create_repo("alice/busy")
        assert _Busy.calls == 3 and url == f"{endpoint}/alice/busy" and url.repo_id == "alice/busy"
        _Busy.busy_left, _Busy.calls = 100, 0
        with pytest.raises(errors.ConflictError):
            HubApi(endpoint=endpoint, token="hf_x").create_repo("alice/busy")
        assert _Busy.calls == 6  # bounded, unlike upstream's endless loop
    finally:
        srv.shutdown()
        srv.server_close()


class _Pages(stdlib_http.BaseHTTPRequestHandler):
    """Two pages; the first links to the second with a relative URL (our server sends absolute ones)."""

    def do_GET(self):
        last = self.path.endswith("cursor=2")
        data = json.dumps([3, 4] if last else [1, 2]).encode()
        self.send_response(200)
        if not last:
            self.send_header("link", '</api/list?cursor=2>; rel="next"')
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_paginate_resolves_a_relative_next_link(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    srv = stdlib_http.ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        items = list(http.paginate(f"http://127.0.0.1:{srv.server_address[1]}/api/list", headers={}))
    finally:
        srv.shutdown()
        srv.server_close()
    assert items == [1, 2, 3, 4]
